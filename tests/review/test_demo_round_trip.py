"""Issue 17's round trip on the demo: the demo month (imported EHR accesses and the vault's own
gateway events) exported as FHIR AuditEvents and ingested with --format fhir into a new vault that
holds the same context gives the findings of the demo's own vault."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timezone

import pyotp

from auditor.clock import FixedClock
from auditor.review.demo import ZONE

TODAY = FixedClock(datetime(2026, 12, 6, 15, tzinfo=timezone.utc))  # the demo's month: November 2026
DAYS = ("--from", "2026-11-01", "--to", "2026-11-30")


def test_the_demo_month_sent_as_audit_events_gives_the_demo_s_findings(auditor, tmp_path):
    demo = tmp_path / "demo"
    made = auditor("demo", "--out", str(demo), "--events", "3000", clock=TODAY)
    assert made.code == 0, made.err
    vault = str(demo / "vault")
    sign_in = (demo / "sign-in.txt").read_text(encoding="utf-8")  # the demo's account, as its README says
    password, secret = re.search(r"password (\S+),", sign_in)[1], re.search(r"secret=([A-Z2-7]+)", sign_in)[1]
    code = pyotp.TOTP(secret).at(TODAY.at)
    assert auditor("--home", vault, "login", "demo.officer", "--password-stdin", "--totp", code, clock=TODAY,
                   input=password + "\n").code == 0
    before = auditor("--home", vault, "findings", *DAYS, "--out", str(tmp_path / "a.json"), clock=TODAY)
    assert before.code == 0, before.err
    month = tmp_path / "month.ndjson"
    # to today: the demo's own work through the gateway (its load, a chart opened, one refused) is today's
    sent = auditor("--home", vault, "export", "auditevents", "--from", "2026-11-01", "--to", "2026-12-06",
                   "--out", str(month), clock=TODAY)
    assert sent.code == 0, sent.err
    resources = [json.loads(line) for line in month.read_text(encoding="utf-8").splitlines()]
    assert {r["source"]["site"] for r in resources} == {"ehr", "vault"}
    people = [r for r in resources if r["source"]["site"] == "vault" and r["agent"][0].get("type") is None]

    context = tmp_path / "context"  # the export's context files, its access log left empty
    shutil.copytree(demo / "export", context)
    header = (context / "access_log.csv").read_text(encoding="utf-8").splitlines()[0]
    (context / "access_log.csv").write_text(header + "\n", encoding="utf-8")
    second = str(tmp_path / "second")
    assert auditor("--home", second, "init").code == 0
    assert auditor("--home", second, "ingest", str(context), "--tz", ZONE).code == 0
    loaded = auditor("--home", second, "ingest", str(month), "--format", "fhir", "--source", "demo")
    assert loaded.code == 0, loaded.err
    ehr = sum(r["source"]["site"] == "ehr" for r in resources)  # and the vault's service work, quarantined:
    assert people and f"month.ndjson: {len(resources)} records: {ehr + len(people)} loaded, 0 already present, " \
        f"{len(resources) - ehr - len(people)} rejected" in loaded.out  # an application's work, not a person's access
    after = auditor("--home", second, "findings", *DAYS, "--out", str(tmp_path / "b.json"), clock=TODAY,
                    user="investigator")  # the test's own staff on the new vault
    assert after.code == 0, after.err
    found = json.loads((tmp_path / "a.json").read_text())
    assert found and json.loads((tmp_path / "b.json").read_text()) == found
