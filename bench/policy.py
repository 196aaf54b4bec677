"""Policy benchmark (issue 3): ingest throughput, the full rule pack's time and memory, and three rules
against DuckDB.

    python bench/policy.py [--events N] [--seed S] [--keep DIR] [--database-url postgresql+psycopg://...]
                           [--partitioned [--part-events N]] [--by-role-only]

N access events (default 10,000,000: about a month of a large academic medical centre) are generated
by bench/policy_data.py as an interchange export (November 2026, America/New_York), then:

1. ingest: the export into a fresh SQLite vault through the application layer (choose_timezone and
   ingest_export of auditor.review.ingest, as `auditor ingest DIR --tz` runs them): access-log rows
   per second, and the whole directory's time; the log is then verified (verify_log) so that speed
   never stands in for a broken log. The export is written out to disk (os.sync) before the ingest
   starts, as a hospital's export is: otherwise the kernel writes a GB of generated CSV back while the
   vault syncs its own pages, and the ingest is timed with the generator's writes in it;
2. full rule pack: load_frames + engine.run over the month with every rule of policies/rules, as
   `auditor findings` runs them (findings sentences, which read names through the gateway, are not
   part of it), in a child process: its wall time, and its peak RSS (VmHWM, the child's own
   high-water mark: the whole process, interpreter and imports included. Not ru_maxrss: on Linux a
   child's ru_maxrss starts at its parent's peak when it execs, and this parent has just ingested);
3. three rules (after-hours, no-treatment-relationship, excessive-volume): our engine with a Policy
   holding only those rules against DuckDB SQL with the same meaning (bench/policy_duckdb.py) over
   the same frames, in this process, one after the other. Both counts of flagged events are printed for each rule and must
   agree: a benchmark comparing different answers would be wrong (exit status 1 if they differ).

With --database-url (an empty PostgreSQL database, as `auditor init --database-url` takes), the same
export is then ingested into a second vault whose records database is that one, verified, and the
full pack run on it in a child process; its figures are printed beside SQLite's (issue 19, section 2),
and the two packs' hits must be the same (exit status 1 if they differ).

With --partitioned, the full pack also runs one role partition at a time (auditor.cluster.local_partitions,
as `auditor findings --engine partitioned` runs it) in a child of its own: its time and peak RSS are
printed beside the whole month's, and its hits, event by event, must be the whole month's (exit
status 1 if they differ; issue 19, section 1).

With --by-role-only, only that: the month judged by role partitions, for a month too large to hold
whole (issue 19, section 1: 60 million events, the pack <= 4 minutes and <= 12 GB, ingest >= 150,000
rows/s). A new month of more than 10 million events is judged so by default (`--events 60000000`),
unless --partitioned or --database-url asks for the whole month beside it.
A month of more than 10 million events is generated in parts of 10 million, merged in time
order (bench/policy_data.py). Check the hits at 10M with --partitioned.

Not a timed test: it prints a table and, last, one JSON line. Targets (issue 3, on the 2-core
machine): full pack <= 60 s, peak RSS <= 6 GB, ingest >= 100,000 events/s, three rules <= 5x DuckDB.
Needs `pip install -e '.[bench]'` (duckdb, psutil).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy_data  # noqa: E402  (bench/ is not a package)
from policy_duckdb import THREE, run_duckdb  # noqa: E402

from auditor.vault.integrity import verify_vault  # noqa: E402
from auditor.home import Vault, create_home  # noqa: E402
from auditor.memory import one_job_per_process  # noqa: E402
from auditor.review.ingest import choose_timezone, ingest_export  # noqa: E402
from auditor.cluster.local_partitions import judge_by_role, partition_of_each_event  # noqa: E402
from auditor.cluster.peer_group_split import PART_EVENTS, plan  # noqa: E402
from auditor.policy import engine  # noqa: E402
from auditor.policy.frames import Frames, Period, load_frames  # noqa: E402
from auditor.policy.rules import Policy, load_policy  # noqa: E402

FIRST_DAY, LAST_DAY = date(2026, 11, 1), date(2026, 11, 30)
TARGETS = {"pack_s": 60.0, "peak_rss_gb": 6.0, "ingest_per_s": 100_000, "three_vs_duckdb": 5.0}
# issue 19, section 1: an average hospital's month (60 million events) by role partitions on this machine
SCALE_TARGETS = {"pack_s": 240.0, "peak_rss_gb": 12.0, "ingest_per_s": 150_000}
WHOLE_MONTH_EVENTS = 10_000_000  # the largest new month judged whole by default (4.7 GB at 10M; about 28 at 60M)


def run_ours(frames: Frames, policy: Policy) -> tuple[float, dict[str, int]]:
    three = Policy({r: policy.rules[r] for r in THREE}, policy.settings)
    started = time.perf_counter()
    detection = engine.run(frames, three)
    seconds = time.perf_counter() - started
    counts = detection.hits["rule"].value_counts()
    return seconds, {rule: int(counts.get(rule, 0)) for rule in THREE}


# -- 1. ingest, 2. the full rule pack (child process) ---------------------------------------------------
def ingest(export: Path, home: Path, database_url: str | None = None) -> dict:
    zone = ZoneInfo(policy_data.TIME_ZONE)
    vault = create_home(home, database_url=database_url)
    try:
        choose_timezone(vault, zone)
        started = time.perf_counter()
        summary = ingest_export(vault, export, zone)
        total = time.perf_counter() - started
        log = summary.files["access_log.csv"]
        # printed now: a later step that fails (a pack out of memory) must not take these with it
        print(f"ingested {log.rows:,} access rows in {summary.access_seconds:.1f} s "
              f"({summary.access_rows_per_second:,.0f} rows/s), the whole export in {total:.1f} s", file=sys.stderr)
        started = time.perf_counter()
        verified = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
        verify_s = time.perf_counter() - started
        print(f"verified {verified.size:,} events in {verify_s:.1f} s", file=sys.stderr)
    finally:
        vault.close()
    links = sha256_links_per_second()
    if not verified.ok:
        raise SystemExit(f"the audit log does not verify after ingest: {verified.problems[:3]}")
    return {"rows": log.rows, "loaded": log.loaded, "rejected": log.rejected, "access_s": summary.access_seconds,
            "ingest_per_s": summary.access_rows_per_second, "directory_s": total, "log_size": verified.size,
            "verify_s": verify_s, "verify_per_s": verified.size / verify_s, "sha256_links_per_s": links,
            "verify_vs_sha256": verified.size / verify_s / links}


def sha256_links_per_second(links: int = 1_000_000) -> float:
    """The baseline `audit verify` is measured against (issue 19): how many links of a SHA-256 chain
    over 96-byte leaves this machine hashes a second in one process, measured here and now. Verify
    hashes each event's leaf, the Merkle tree above them and each seal, in worker processes."""
    leaf, digest = bytes(range(96)), bytes(32)
    started = time.perf_counter()
    for _ in range(links):
        digest = hashlib.sha256(digest + leaf).digest()
    return links / (time.perf_counter() - started)


def rule_pack(home: Path, by_role: bool = False, part_events: int = PART_EVENTS) -> dict:
    """In the child: load_frames + engine.run with every rule, as `auditor findings` runs them (by_role:
    one role partition at a time, as `--engine partitioned`, a role of more than `part_events` events
    in parts by peer group)."""
    vault = Vault.open(home)
    try:
        period = Period(FIRST_DAY, LAST_DAY, vault.timezone)
        policy = load_policy()
        started = time.perf_counter()
        frames = load_frames(vault.records, period, policy.lookback(), log_key=vault.keyring.log_mac_key)
        load_s, events = time.perf_counter() - started, len(frames.events)
        shape = {}
        if by_role:  # the partitions judge_by_role judges: how many, the largest, the roles judged in parts
            split = plan(frames, policy, partition_of_each_event(frames), part_events)  # (not timed)
            sizes = np.bincount(split.part[split.part >= 0])
            shape = {"partitions": int((sizes > 0).sum()), "largest_partition": int(sizes.max(initial=0)),
                     "roles_in_parts": len(split.hears)}
            del split, sizes
        loaded = time.perf_counter()
        # by role, the month's events go once judged (as `--engine partitioned` lets them go)
        detection = (judge_by_role(frames, policy, most_events=part_events, let_go=True) if by_role
                     else engine.run(frames, policy))
        done = time.perf_counter()
    finally:
        vault.close()
    counts = detection.hits["rule"].value_counts()
    seq = detection.context.events["seq"].to_numpy()[detection.hits["event"].to_numpy(dtype=np.int64)]
    keyed = sorted(zip(detection.hits["rule"].astype(str), seq.tolist()))
    return {"load_s": load_s, "run_s": done - loaded, "events": events, "peak_rss_gb": peak_rss_gb(),
            "accesses": detection.context.judged, "explained": detection.context.explained_share,
            "rules": len(policy.running()), "hits": {rule: int(n) for rule, n in counts.items()},
            "hits_sha256": hashlib.sha256(repr(keyed).encode()).hexdigest(), **shape}


def peak_rss_gb() -> float:
    """This process's peak resident memory: VmHWM from /proc (Linux), else ru_maxrss."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 2**20  # kB
    except (OSError, IndexError, ValueError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def rule_pack_in_child(home: Path, by_role: bool = False, part_events: int = PART_EVENTS) -> dict:
    """The rule pack in a fresh interpreter, which reports its own time and peak memory."""
    child = subprocess.run([sys.executable, __file__, "--rule-pack", str(home), "--part-events", str(part_events),
                            *(["--by-role"] if by_role else [])],
                           stdout=subprocess.PIPE)
    if child.returncode != 0:
        raise SystemExit("the rule pack failed in its child process")
    return json.loads(child.stdout.decode().strip().splitlines()[-1])


# -- the report -------------------------------------------------------------------------------------------
def _ingest_rows(fig: dict) -> list[tuple[str, str, str]]:
    if "rows" not in fig:  # --home: a vault loaded earlier
        return []
    return [
        ("generate the export (bench/policy_data.py)", f"{fig['generate_s']:.1f} s",
         f"then written to disk (os.sync) in {fig['sync_s']:.1f} s, before the ingest"),
        (f"ingest {fig['rows']:,} access rows (whole export {fig['directory_s']:.1f} s)", f"{fig['access_s']:.1f} s",
         f"{fig['ingest_per_s']:,.0f} events/s (target >= {TARGETS['ingest_per_s']:,})"),
        (f"audit verify ({fig['log_size']:,} events)", f"{fig['verify_s']:.1f} s",
         f"ok: {fig['verify_per_s']:,.0f} events/s, {fig['verify_vs_sha256']:.2f}x the "
         f"{fig['sha256_links_per_s']:,.0f} SHA-256 links/s one process hashes here"),
    ]


def report(fig: dict, counts: dict) -> None:
    rows = _ingest_rows(fig) + [
        (f"full pack: load_frames ({fig['events']:,} events)", f"{fig['load_s']:.1f} s", ""),
        (f"full pack: engine.run ({fig['rules']} rules)", f"{fig['run_s']:.1f} s", ""),
        ("full pack: total", f"{fig['pack_s']:.1f} s", f"target <= {TARGETS['pack_s']:.0f} s"),
        ("full pack: peak RSS of its process", f"{fig['peak_rss_gb']:.2f} GB",
         f"target <= {TARGETS['peak_rss_gb']:.0f} GB"),
        ("three rules: auditor engine", f"{fig['three_s']:.2f} s", ""),
        (f"three rules: DuckDB SQL (input prepared: {fig['duckdb_prepare_s']:.1f} s)", f"{fig['duckdb_s']:.2f} s",
         f"ratio {fig['three_vs_duckdb']:.2f}x (target <= {TARGETS['three_vs_duckdb']:.0f}x)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'time':>10}  note")
    for what, t, note in rows:
        print(f"{what:<{width}}  {t:>10}  {note}")
    print(f"\n{'rule':<28}{'auditor':>12}{'duckdb':>12}")
    for rule in THREE:
        print(f"{rule:<28}{counts['ours'][rule]:>12,}{counts['duckdb'][rule]:>12,}")
    print(f"explained accesses: {fig['explained']:.1%} of {fig['accesses']:,}; full-pack hits: "
          + ", ".join(f"{r} {n:,}" for r, n in sorted(fig["hits"].items())))


def report_partitioned(whole: dict, parts: dict) -> None:
    rows = [("load_frames (s)", whole["load_s"], parts["load_s"]), ("rules (s)", whole["run_s"], parts["run_s"]),
            ("full pack (s)", whole["pack_s"], parts["pack_s"]), ("peak RSS (GB)", whole["peak_rss_gb"], parts["peak_rss_gb"])]
    print(f"\n{'full pack':<16}{'whole month':>14}{'by role':>12}{'by role / whole':>18}")
    for what, a, b in rows:
        print(f"{what:<16}{a:>14.2f}{b:>12.2f}{b / a if a else float('nan'):>17.2f}x")
    if "partitions" in parts:
        print(f"{parts['partitions']} partitions, the largest {parts['largest_partition']:,} events; "
              f"{parts['roles_in_parts']} role(s) judged in parts by peer group")
    print("hits by role identical to the whole month's, event by event" if parts["same_hits"] else
          "HITS DIFFER between the whole month and the partitions")


def report_by_role_only(fig: dict, parts: dict) -> None:
    rows = _ingest_rows(fig)
    if rows:
        rows[1] = (*rows[1][:2], f"{fig['ingest_per_s']:,.0f} events/s (target at this scale >= "
                                 f"{SCALE_TARGETS['ingest_per_s']:,})")
    rows += [(f"by role: load_frames ({parts['events']:,} events)", f"{parts['load_s']:.1f} s", ""),
             (f"by role: the rules ({parts['rules']} rules)", f"{parts['run_s']:.1f} s", ""),
             ("by role: total", f"{parts['pack_s']:.1f} s", f"target <= {SCALE_TARGETS['pack_s']:.0f} s"),
             ("by role: peak RSS of its process", f"{parts['peak_rss_gb']:.2f} GB",
              f"target <= {SCALE_TARGETS['peak_rss_gb']:.0f} GB")]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'time':>10}  note")
    for what, t, note in rows:
        print(f"{what:<{width}}  {t:>10}  {note}")
    print(f"{parts['partitions']} partitions, the largest {parts['largest_partition']:,} events; "
          f"{parts['roles_in_parts']} role(s) judged in parts by peer group; explained accesses: "
          f"{parts['explained']:.1%} of {parts['accesses']:,}; hits: "
          + ", ".join(f"{r} {n:,}" for r, n in sorted(parts["hits"].items())))
    print("(not compared with the whole month: this run does not hold it; --partitioned compares them)")


def generate_and_ingest(work: Path, events: int, seed: int) -> dict:
    started = time.perf_counter()
    shape = policy_data.write_export(work / "export", events, seed)
    generate_s = time.perf_counter() - started
    # The export is a hospital's file already on disk: its pages are written out before the ingest is
    # timed, or the kernel's writeback of a GB of CSV would compete with the vault's own syncs.
    started = time.perf_counter()
    os.sync()
    fig = {"events_requested": events, "generate_s": generate_s, "sync_s": time.perf_counter() - started,
           "workforce": shape.workforce, "patients": shape.patients, "encounters": shape.encounters,
           "care_team": shape.care_team, "orders": shape.orders, "appointments": shape.appointments,
           "documents": shape.documents}
    print(f"generated in {generate_s:.1f} s, written to disk in {fig['sync_s']:.1f} s", file=sys.stderr)
    return {**fig, **ingest(work / "export", work / "home")}


def on_postgresql(work: Path, database_url: str, sqlite: dict) -> dict:
    """The same export into a vault on PostgreSQL: ingest, verify and the full pack (in a child)."""
    fig = ingest(work / "export", work / "home-postgresql", database_url)
    pack = rule_pack_in_child(work / "home-postgresql")
    # event by event (each hit's rule and sequence number), not only the counts: the same export gives
    # the same sequence numbers on both
    fig.update(pack, pack_s=pack["load_s"] + pack["run_s"], same_hits=pack["hits_sha256"] == sqlite["hits_sha256"])
    return fig


def report_postgresql(sqlite: dict, pg: dict) -> None:
    rows = [("ingest: access rows per second", f"{sqlite['ingest_per_s']:,.0f}", f"{pg['ingest_per_s']:,.0f}",
             pg["ingest_per_s"] / sqlite["ingest_per_s"]),
            ("ingest: access log (s)", f"{sqlite['access_s']:.1f}", f"{pg['access_s']:.1f}",
             pg["access_s"] / sqlite["access_s"]),
            ("ingest: whole export (s)", f"{sqlite['directory_s']:.1f}", f"{pg['directory_s']:.1f}",
             pg["directory_s"] / sqlite["directory_s"]),
            (f"audit verify of {pg['log_size']:,} events (s)", f"{sqlite['verify_s']:.1f}", f"{pg['verify_s']:.1f}",
             pg["verify_s"] / sqlite["verify_s"]),
            ("full pack: load_frames (s)", f"{sqlite['load_s']:.1f}", f"{pg['load_s']:.1f}", pg["load_s"] / sqlite["load_s"]),
            ("full pack: engine.run (s)", f"{sqlite['run_s']:.1f}", f"{pg['run_s']:.1f}", pg["run_s"] / sqlite["run_s"]),
            ("full pack: total (s)", f"{sqlite['pack_s']:.1f}", f"{pg['pack_s']:.1f}", pg["pack_s"] / sqlite["pack_s"]),
            ("full pack: peak RSS (GB)", f"{sqlite['peak_rss_gb']:.2f}", f"{pg['peak_rss_gb']:.2f}",
             pg["peak_rss_gb"] / sqlite["peak_rss_gb"])]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'the same export on':<{width}}  {'SQLite':>10}  {'PostgreSQL':>10}  PostgreSQL / SQLite")
    for what, lite, pg_value, ratio in rows:
        print(f"{what:<{width}}  {lite:>10}  {pg_value:>10}  {ratio:.2f}x")
    print("full-pack hits identical on both, event by event" if pg["same_hits"] else
          f"full-pack hits DIFFER: SQLite {sqlite['hits']}, PostgreSQL {pg['hits']} (or the same counts, other events)")


def compare_three(home: Path, fig: dict) -> dict[str, dict[str, int]]:
    """Our engine with the three rules, then DuckDB, over the same frames loaded once in this process."""
    vault = Vault.open(home)
    try:
        policy = load_policy()
        frames = load_frames(vault.records, Period(FIRST_DAY, LAST_DAY, vault.timezone),
                             policy.lookback(), log_key=vault.keyring.log_mac_key)
    finally:
        vault.close()
    fig["three_s"], ours = run_ours(frames, policy)
    fig["duckdb_s"], theirs, fig["duckdb_prepare_s"] = run_duckdb(frames, policy)
    fig["three_vs_duckdb"] = fig["three_s"] / fig["duckdb_s"]
    fig["counts_agree"] = ours == theirs
    fig["counts"] = {"auditor": ours, "duckdb": theirs}
    return {"ours": ours, "duckdb": theirs}


def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The options. A new month of more than WHOLE_MONTH_EVENTS events, with neither --partitioned nor
    --database-url (which compare against a whole month), is judged by role alone: the whole month
    would not fit this machine (about 28 GB at 60 million events), so `--events 60000000` means
    section 1's measure as issue 19 writes the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--keep", type=Path, help="Keep the export and the vault here (default: a temporary folder).")
    parser.add_argument("--home", type=Path, help="Skip generation and ingest: measure the rules on this vault "
                                                  "(one an earlier run kept with --keep, in DIR/home).")
    parser.add_argument("--database-url", help="Also measure ingest, verify and the full pack with this empty "
                                                  "PostgreSQL database as the records database (postgresql+psycopg://...).")
    parser.add_argument("--partitioned", action="store_true",
                        help="Also run the full pack one role partition at a time (--engine partitioned).")
    parser.add_argument("--part-events", type=int, default=PART_EVENTS,
                        help="With --partitioned: a role of more events is judged in parts, by peer group "
                             "(default: %(default)s, as --engine partitioned).")
    parser.add_argument("--by-role-only", action="store_true",
                        help="Judge the month by role partitions only: no whole-month run, no DuckDB, for a month "
                             "too large to hold whole (issue 19: 60 million events; --partitioned compares the "
                             "two at a scale that holds both).")
    parser.add_argument("--rule-pack", type=Path, help=argparse.SUPPRESS)  # the child's entry point
    parser.add_argument("--by-role", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.database_url and args.home:
        parser.error("--database-url measures a new export: it does not go with --home")
    if args.by_role_only and (args.partitioned or args.database_url):
        parser.error("--by-role-only judges by role alone: it does not go with --partitioned or --database-url")
    if (args.events > WHOLE_MONTH_EVENTS and not args.home and not args.rule_pack and not args.by_role_only
            and not args.partitioned and not args.database_url):
        args.by_role_only = True
        print(f"{args.events:,} events: judged by role partitions only, as with --by-role-only (a whole month "
              f"of more than {WHOLE_MONTH_EVENTS:,} would not fit this machine)", file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> int:
    one_job_per_process()  # as the auditor command does
    args = parse(argv)
    if args.rule_pack:
        print(json.dumps(rule_pack(args.rule_pack, args.by_role, args.part_events)))
        return 0
    tmp = None if args.keep or args.home else tempfile.TemporaryDirectory(prefix="auditor-bench-")
    work = args.keep or (Path(tmp.name) if tmp else None)
    home = args.home or work / "home"
    print(f"auditor policy benchmark: the rules over the vault in {home}" if args.home else
          f"auditor policy benchmark: {args.events:,} access events, seed {args.seed}, in {work}", file=sys.stderr)
    fig: dict = generate_and_ingest(work, args.events, args.seed) if not args.home else {}
    if args.by_role_only:
        parts = rule_pack_in_child(home, by_role=True, part_events=args.part_events)
        fig["partitioned"] = dict(parts, pack_s=parts["load_s"] + parts["run_s"])
        report_by_role_only(fig, fig["partitioned"])
        print(json.dumps(_rounded(fig)))
        if tmp:
            tmp.cleanup()
        return 0
    pack = rule_pack_in_child(home)
    fig.update(pack, pack_s=pack["load_s"] + pack["run_s"])
    counts = compare_three(home, fig)
    report(fig, counts)  # SQLite's figures first: a failure on PostgreSQL loses none of them
    if args.partitioned:
        parts = rule_pack_in_child(home, by_role=True, part_events=args.part_events)
        fig["partitioned"] = dict(parts, pack_s=parts["load_s"] + parts["run_s"],
                                  same_hits=parts["hits_sha256"] == pack["hits_sha256"])
        report_partitioned(fig, fig["partitioned"])
    if args.database_url:
        fig["postgresql"] = on_postgresql(work, args.database_url, fig)
        report_postgresql(fig, fig["postgresql"])
    print(json.dumps(_rounded(fig)))
    if tmp:
        tmp.cleanup()
    agree = all(fig.get(other, {}).get("same_hits", True) for other in ("postgresql", "partitioned"))
    return 0 if fig["counts_agree"] and agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
