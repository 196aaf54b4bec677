"""`auditor forward` to another auditor's `auditor listen`, over TLS on loopback with certificates made
here: the second vault's findings for the month equal the first's; a second run resumes where the first
stopped and sends nothing again; an untrusted receiver is refused in one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from zoneinfo import ZoneInfo

from auditor.audit.atna_export import audit_message
from auditor.ingest.formats.atna import map_message
from tests.ingest.tls_certs import make_certificates

ZONE = "America/New_York"
DAYS = ("--from", "2026-11-01", "--to", "2026-11-30")


def _listen(home, certs, source="first"):
    env = dict(os.environ, AUDITOR_HOME=str(home))
    process = subprocess.Popen([sys.executable, "-m", "auditor", "listen", "--tls", "127.0.0.1:0", "--cert",
                                str(certs["server"]), "--key", str(certs["server_key"]), "--source", source],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("listening on tls 127.0.0.1:"), process.stderr.read() if process.poll() is not None else line
    return process, int(line.strip().rsplit(":", 1)[1])


def _stop(process) -> str:
    time.sleep(1.5)  # a batch's ingest after the last frames
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def test_a_month_forwarded_to_another_auditor_gives_the_same_findings(auditor, tmp_path):
    certs = make_certificates(tmp_path)
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "8", "--events", "2000").code == 0
    first, second = tmp_path / "first", tmp_path / "second"
    for home in (first, second):
        assert auditor("--home", str(home), "init").code == 0
    assert auditor("--home", str(first), "ingest", str(export), "--tz", ZONE).code == 0
    context = tmp_path / "context"
    shutil.copytree(export, context)
    header = (export / "access_log.csv").read_text(encoding="utf-8").splitlines()[0]
    (context / "access_log.csv").write_text(header + "\n", encoding="utf-8")
    assert auditor("--home", str(second), "ingest", str(context), "--tz", ZONE).code == 0

    listener, port = _listen(second, certs)
    sent = auditor("--home", str(first), "forward", "--to", f"127.0.0.1:{port}", "--tls", "--ca", str(certs["ca"]),
                   user="officer")
    assert sent.code == 0, sent.err
    count = int(sent.out.split(" audit events sent")[0])
    assert count > 2000
    again = auditor("--home", str(first), "forward", "--to", f"127.0.0.1:{port}", "--tls", "--ca", str(certs["ca"]),
                    user="officer")
    last_sent = int(sent.out.rsplit(" to ", 1)[1].rstrip(")\n"))
    first_again = int(again.out.split("(events ")[1].split(" to ")[0])
    assert again.code == 0 and first_again > last_sent  # resumed: only the reads the first run made itself
    out = _stop(listener)
    assert "rejected" in out

    a = auditor("--home", str(first), "findings", *DAYS, "--out", str(tmp_path / "a.json"), user="investigator")
    b = auditor("--home", str(second), "findings", *DAYS, "--out", str(tmp_path / "b.json"), user="investigator")
    assert a.code == 0 and b.code == 0, (a.err, b.err)
    by_first = json.loads((tmp_path / "a.json").read_text())
    assert len(by_first) > 10 and json.loads((tmp_path / "b.json").read_text()) == by_first


def test_a_receiver_whose_certificate_is_not_trusted_is_refused(auditor, tmp_path):
    (tmp_path / "theirs").mkdir()
    (tmp_path / "ours").mkdir()
    certs = make_certificates(tmp_path / "theirs")
    ours = make_certificates(tmp_path / "ours")
    assert auditor("init").code == 0
    listener, port = _listen(tmp_path / "home", certs)
    try:
        done = auditor("forward", "--to", f"127.0.0.1:{port}", "--tls", "--ca", str(ours["ca"]), user="officer")
        assert done.code == 2 and "TLS with 127.0.0.1" in done.err and len(done.err.strip().splitlines()) == 1
    finally:
        _stop(listener)


def test_every_action_forwarded_reads_back_to_its_fields():
    for action in ("view", "create", "update", "delete", "search", "export", "disclose", "print", "login_failed"):
        event = {"seq": 9, "at_us": 1_790_000_000_000_000, "source": "ehr", "source_event_id": "EV 9/x",
                 "user_id": "n.nurse", "role": "nurse", "action": action, "patient_id": 4, "record_type": "hiv",
                 "outcome": "success", "purpose": "ETREAT", "break_glass": True, "reason": b"sealed",
                 "workstation": "WS-1"}
        back = map_message(audit_message(event, "MRN-4", "patient unconscious"), ZoneInfo("UTC"), Counter())
        assert (back.event_id, back.at_us, back.user_id, back.mrn, back.record_type, back.purpose, back.break_glass,
                back.reason, back.workstation) == ("EV 9/x", event["at_us"], "n.nurse", "MRN-4", "hiv", "ETREAT", True,
                                                   "patient unconscious", "WS-1"), action
        assert back.action == action and back.outcome == ("denied" if action == "login_failed" else "success")
