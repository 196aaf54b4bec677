"""Interop benchmark (issue 17): FHIR AuditEvent NDJSON and ATNA over TLS syslog into the log, each
against the CSV path on the same events.

    python bench/interop.py [--events 300000] [--seconds 60] [--rate 5000] [--repeat 3]

1. CSV, the baseline: a month of N events (bench/policy_data, as bench/policy.py makes it) ingested
   from its interchange export into a new vault: access_log.csv rows per second.
2. FHIR: the same accesses written as FHIR R4 AuditEvents by this auditor's exporter
   (auditor.audit.fhir_export, one a line) and ingested with `--format fhir`'s path into a vault that
   holds the same context: events per second, and the ratio to the CSV's. Target >= 50%.
   Both run `--repeat` times, alternately, each into a new vault; the best run of each is compared
   (a single run moves by 15% with the machine's load), and every run's rate is printed. Every FHIR
   run starts its worker processes from nothing, as a command does; the bench's own events are kept
   out of the garbage collector's way (gc.freeze), as a command holds none of them.
3. ATNA: a vault with the same context listens on loopback TLS (auditor.ingest.listener, RFC 5425,
   certificates made here, as `auditor listen` runs it); a sender process sends the accesses as ATNA
   messages (auditor.audit.atna_export) at `--rate` messages a second for `--seconds`, paced each
   second. Printed: what the sender held, what the listener received and ingested, the time the last
   message took to reach the log, and the count check: messages sent = events in the log (counted in
   the log's blocks, each event id once). Target:
   5,000 messages a second held for a minute with nothing lost.

Not a timed test: it prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import multiprocessing.forkserver
import subprocess
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy_data  # noqa: E402  (bench/ is not a package)

from auditor.audit.atna_export import audit_message  # noqa: E402
from auditor.audit.fhir_export import audit_event  # noqa: E402
from auditor.home import Vault, create_home  # noqa: E402
from auditor.ingest.listener import AtnaListener, tls_context  # noqa: E402
from auditor.ingest.spool import Spool  # noqa: E402
from auditor.ingest.syslog import atna_syslog, frame  # noqa: E402
from auditor.review.ingest import choose_timezone, ingest_export, ingest_log  # noqa: E402

ZONE = ZoneInfo(policy_data.TIME_ZONE)
FHIR_TARGET, ATNA_TARGET = 0.5, 5000.0


def _events(access_log: Path) -> list[dict]:
    """access_log.csv's rows as log events (CANONICAL_COLUMNS, the reason as is)."""
    out = []
    with open(access_log, newline="", encoding="utf-8") as f:
        for seq, row in enumerate(csv.DictReader(f), start=1):
            at = datetime.fromisoformat(row["timestamp"])
            at = at.replace(tzinfo=ZONE) if at.tzinfo is None else at
            out.append({"seq": seq, "at_us": int(at.timestamp() * 1_000_000), "source": "ehr",
                        "source_event_id": row["event_id"], "user_id": row["user_id"], "role": None,
                        "action": row["action"], "patient_id": row["mrn"] or None,
                        "record_type": row["record_type"] or None, "outcome": row["outcome"] or "success",
                        "purpose": row["purpose_of_use"] or None, "break_glass": row["break_glass"] == "true",
                        "reason": row["reason"] or None, "workstation": row["workstation"] or None})
    return out


def _vault(home: Path, export: Path, context_only: bool) -> dict:
    """A new vault with the export (its context alone: an empty access_log.csv)."""
    folder = export
    if context_only:
        folder = home.parent / f"{home.name}-context"
        shutil.copytree(export, folder)
        header = (export / "access_log.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        (folder / "access_log.csv").write_text(header + "\n", encoding="utf-8")
    vault = create_home(home)
    try:
        choose_timezone(vault, ZONE)
        summary = ingest_export(vault, folder, ZONE)
    finally:
        vault.close()
    return {"rows": summary.files["access_log.csv"].rows, "per_s": summary.access_rows_per_second}


def measure_fhir(work: Path, events: list[dict], run: int) -> dict:
    ndjson = work / "month.ndjson"
    write_s = None
    if not ndjson.exists():
        started = time.perf_counter()
        with open(ndjson, "wb") as f:
            for e in events:
                f.write(orjson.dumps(audit_event(e, e["patient_id"], e["reason"])) + b"\n")
        write_s = time.perf_counter() - started
    _vault(work / f"fhir-home-{run}", work / "export", context_only=True)
    _stop_fork_server()
    vault = Vault.open(work / f"fhir-home-{run}")
    try:
        summary = ingest_log(vault, ndjson, "fhir", ZONE, "fhir")
    finally:
        vault.close()
    count = next(iter(summary.files.values()))
    return {"events": count.rows, "loaded": count.loaded, "rejected": count.rejected, "seconds": summary.access_seconds,
            "per_s": count.rows / summary.access_seconds, "write_s": write_s, "bytes": ndjson.stat().st_size}


def _stop_fork_server() -> None:
    """Each run starts the workers' fork server (auditor.workers) anew, as `auditor ingest` does: a
    server left by the run before would spare this one its start. (A private method of the standard
    library, meant for its tests; without it, the later runs are counted warm.)"""
    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


def _best(runs: list[dict]) -> dict:
    """The fastest of the runs, with every run's rate: this machine's load moves a single run by 15%."""
    return dict(max(runs, key=lambda r: r["per_s"]), runs_per_s=[round(r["per_s"]) for r in runs])


def _sender(port: int, ca: str, messages_path: str, rate: int, seconds: int) -> dict:
    """In its own process (`interop.py --send ...`): the messages, `rate` a second, for `seconds`."""
    framed = Path(messages_path).read_bytes().split(b"\0")
    context = ssl.create_default_context(cafile=ca)
    sent, started = 0, time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        for second in range(seconds):
            s.sendall(b"".join(framed[sent : sent + rate]))
            sent += len(framed[sent : sent + rate])
            late = started + second + 1 - time.perf_counter()
            if late > 0:
                time.sleep(late)
    return {"sent": sent, "send_s": time.perf_counter() - started}


def measure_atna(work: Path, events: list[dict], rate: int, seconds: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.ingest.tls_certs import make_certificates  # a CA and a server certificate, made here

    certs = make_certificates(work)
    total = rate * seconds
    framed = []
    for i in range(total):  # the month's accesses, again with other ids when the minute needs more
        e = dict(events[i % len(events)])
        e["source_event_id"] = f"{e['source_event_id']}-{i // len(events)}"
        framed.append(frame(atna_syslog(audit_message(e, e["patient_id"], e["reason"]))))
    (work / "messages.bin").write_bytes(b"\0".join(framed))  # a frame holds no NUL: XML cannot
    _vault(work / "atna-home", work / "export", context_only=True)
    vault = Vault.open(work / "atna-home")
    spool = Spool(work / "atna-home" / "spool" / "atna", vault.keyring.log_mac_key)
    listener = AtnaListener(vault.gateway, spool, "atna", ZONE,
                            tls=("127.0.0.1", 0, tls_context(certs["server"], certs["server_key"])), batch=5000)
    loop, stop, ready = asyncio.new_event_loop(), None, threading.Event()

    def serve() -> None:
        nonlocal stop
        asyncio.set_event_loop(loop)
        stop = asyncio.Event()
        loop.run_until_complete(listener.run(stop, lambda _: ready.set()))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(60)
    port = int(listener.counts.endpoints[0].rsplit(":", 1)[1])
    sender = subprocess.run([sys.executable, __file__, "--send", str(port), str(certs["ca"]), str(work / "messages.bin"),
                             str(rate), str(seconds)], capture_output=True, text=True, timeout=seconds + 300)
    if sender.returncode != 0:
        raise SystemExit(f"the sender failed: {sender.stderr.strip().splitlines()[-1:]}")
    held = json.loads(sender.stdout)
    sent_at = time.perf_counter()
    while time.perf_counter() - sent_at < 120:
        files = listener.summary.files.get("listener:atna") if listener.summary else None
        if listener.counts.received >= held["sent"] and files is not None and files.rows >= held["sent"]:
            break
        time.sleep(0.05)
    in_log_at = time.perf_counter()
    loop.call_soon_threadsafe(stop.set)
    thread.join(120)
    spool.close()
    try:
        in_log, distinct = _in_the_log(vault, "atna")
    finally:
        vault.close()
    counts = listener.summary.files["listener:atna"]
    return {"sent": held["sent"], "send_s": held["send_s"], "held_per_s": held["sent"] / held["send_s"],
            "received": listener.counts.received, "loaded": counts.loaded, "rejected": counts.rejected,
            "in_log": in_log, "distinct_in_log": distinct, "last_in_log_after_s": in_log_at - sent_at,
            "per_s_to_log": counts.loaded / (held["send_s"] + in_log_at - sent_at),  # the sender's own start left out
            "nothing_lost": in_log == distinct == held["sent"]}


def _in_the_log(vault: Vault, source: str) -> tuple[int, int]:
    """The events the log holds from `source`, counted from the log itself (its blocks of imported
    events), not from what the listener says it loaded; and how many distinct event ids among them."""
    from sqlalchemy import func, select

    from auditor.audit.schema import AuditEventBlock as Block, ImportedEventKey as Key

    with vault.records.connect() as conn:
        held = conn.scalar(select(func.coalesce(func.sum(Block.last_seq - Block.first_seq + 1), 0))
                           .where(Block.source == source))
        distinct = conn.scalar(select(func.count(func.distinct(Key.source_event_id))).where(Key.source == source))
    return int(held), int(distinct)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--send"]:  # the sender process
        port, ca, path, rate, seconds = argv[1:6]
        print(json.dumps(_sender(int(port), ca, path, int(rate), int(seconds))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000, help="Accesses in the month generated.")
    parser.add_argument("--seconds", type=int, default=60, help="How long the ATNA sender sends.")
    parser.add_argument("--rate", type=int, default=5000, help="ATNA messages a second the sender sends.")
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of the CSV and FHIR ingests: the best of each is compared.")
    args = parser.parse_args(argv)
    for name in ("events", "seconds", "rate", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be 1 or more")
    with tempfile.TemporaryDirectory(prefix="auditor-bench-interop-") as tmp:
        work = Path(tmp)
        policy_data.write_export(work / "export", args.events, args.seed)
        events = _events(work / "export" / "access_log.csv")
        gc.freeze()  # the bench's own 300,000 dictionaries: no ingest's collector walks them (the CLI holds none)
        csv_runs, fhir_runs = [], []
        for run in range(args.repeat):  # alternately, so both meet the same load
            csv_runs.append(_vault(work / f"csv-home-{run}", work / "export", context_only=False))
            fhir_runs.append(measure_fhir(work, events, run))
        csv_fig, fhir = _best(csv_runs), _best(fhir_runs)
        atna = measure_atna(work, events, args.rate, args.seconds)
    fig = {"events": len(events), "csv": csv_fig, "fhir": fhir, "atna": atna,
           "fhir_vs_csv": fhir["per_s"] / csv_fig["per_s"], "atna_vs_csv": atna["per_s_to_log"] / csv_fig["per_s"]}
    print(f"{len(events):,} accesses in the month")
    print(f"CSV  (baseline)  {csv_fig['per_s']:>10,.0f} rows/s (best of {args.repeat}: {csv_fig['runs_per_s']})")
    print(f"FHIR NDJSON      {fhir['per_s']:>10,.0f} events/s  = {fig['fhir_vs_csv']:.0%} of CSV "
          f"(target >= {FHIR_TARGET:.0%}: {'met' if fig['fhir_vs_csv'] >= FHIR_TARGET else 'NOT met'}); "
          f"{fhir['loaded']:,} loaded, {fhir['rejected']} rejected (best of {args.repeat}: {fhir['runs_per_s']})")
    print(f"ATNA over TLS    {atna['held_per_s']:>10,.0f} messages/s held for {atna['send_s']:.0f} s; "
          f"{atna['per_s_to_log']:,.0f}/s into the log = {fig['atna_vs_csv']:.1%} of CSV; last message in the log "
          f"{atna['last_in_log_after_s']:.1f} s after the sender stopped")
    print(f"                 sent {atna['sent']:,}, received {atna['received']:,}, in the log {atna['in_log']:,} "
          f"({atna['distinct_in_log']:,} distinct event ids): "
          f"{'nothing lost' if atna['nothing_lost'] else 'LOST MESSAGES'} (target {ATNA_TARGET:,.0f}/s for a minute: "
          f"{'met' if atna['nothing_lost'] and atna['held_per_s'] >= ATNA_TARGET * 0.99 else 'NOT met'})")
    print(json.dumps(fig, default=lambda v: round(v, 3) if isinstance(v, float) else v))
    return 0 if atna["nothing_lost"] else 1


if __name__ == "__main__":
    sys.exit(main())
