"""Attackers who type any CLI argument or write the export: nobody acts under an identity that is not
theirs. A service account is typed in code (AccessContext.service), never parsed from a user id; an
EHR row is audited as its own user whatever its id looks like; and every audit event a CLI command
writes names the operating-system account that ran it beside the signed-in staff account (the free-text
`--by` of older versions is refused)."""

from __future__ import annotations

import json
import os
import pwd
import socket
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.errors import AccessDenied, InputError
from auditor.home import Vault, create_home
from auditor.policy.frames import Period
from auditor.policy.rules import load_policy
from auditor.policy.access_counts import accesses_by_period
from auditor.vault.gateway import AccessContext, DocumentRecord
from auditor.vault.records import IngestRun
from auditor.vault.settings import organisation_timezone
from tests.conftest import FAST_SCRYPT
from tests.ingest import interchange_data as data
from tests.policy.vault_data import populate
from tests.signed_in import sign_in
from tests.vault.test_ehr_log import IMPORT, events as ehr_events

NOTE = "words said in the therapy room"


def _events_after(vault, seq: int) -> list:
    with vault.records.connect() as conn:
        return conn.execute(select(AuditEventRow).where(AuditEventRow.seq > seq).order_by(AuditEventRow.seq)).all()


def _last_seq(vault) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(func.coalesce(func.max(AuditEventRow.seq), 0)))


def _os_stamp() -> str:
    """What the operating system says runs this test (not $USER, which the tests below set)."""
    return f"os:{pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()}"


# -- item 6: "svc:" is a name, not a credential --------------------------------------------------------
@pytest.fixture
def restricted_note(population, clock):
    """MRN-2 is a restricted patient; give her a psychotherapy note."""
    population.gateway.add_documents(AccessContext.service("import"), [
        DocumentRecord("MRN-2", "note", clock.at - timedelta(days=1), "Session", NOTE, sensitivity="psychotherapy_note")])
    return population


@pytest.mark.parametrize("typed", ["svc:report", "svc:roi", "svc:cases", "svc:retention"])
def test_a_service_name_on_the_command_line_opens_nothing_and_is_audited(restricted_note, auditor, clock, typed):
    before = _last_seq(restricted_note)
    result = auditor("records", "show", "--mrn", "MRN-2", "--user", typed, "--purpose", "HOPERAT",
                     "--format", "json", clock=clock)
    assert result.code == 2, result.out
    assert result.err.strip() == f"auditor: no such account {typed}"
    assert NOTE not in result.out and "Lee" not in result.out
    (event,) = _events_after(restricted_note, before)
    assert (event.user_id, event.outcome, event.role, event.source) == (typed, "denied", None, "vault")
    assert event.detail == f"no such account {typed}"


def test_a_plain_context_is_a_workforce_lookup_whatever_its_id_or_claimed_role(population):
    with pytest.raises(AccessDenied, match="no such account svc:report"):
        population.gateway.read_chart(AccessContext("svc:report", "HOPERAT", role="service"), "MRN-1")
    with pytest.raises(AccessDenied, match="claims role service but holds role physician"):
        population.gateway.read_chart(AccessContext("dr.house", "TREAT", role="service"), "MRN-1")
    logged = [(e.user_id, e.role, e.outcome) for e in _events_after(population, 0) if e.user_id in ("svc:report", "dr.house")]
    assert logged == [("svc:report", None, "denied"), ("dr.house", "physician", "denied")]  # never role "service"
    with pytest.raises(ValueError):
        AccessContext("svc:report", "HOPERAT", role="physician", service_account="report")


def test_probing_with_service_names_is_seen_by_repeated_denials(restricted_note, auditor, clock, tmp_path):
    for _ in range(5):
        assert auditor("records", "show", "--mrn", "MRN-2", "--user", "svc:probe", "--purpose", "HOPERAT",
                       clock=clock).code == 2
    out = tmp_path / "findings.json"
    day = clock.at.date().isoformat()
    result = auditor("findings", "--from", day, "--to", day, "--format", "json", "--out", str(out), clock=clock,
                     user="investigator")
    assert result.code == 0, result.err
    assert {f["rule"] for f in json.loads(out.read_text()) if f["user_id"] == "svc:probe"} == {"repeated-denials"}


GHOST_NIGHT = [  # three 03:00 views of a VIP by "svc:ghost" (not in workforce.csv), one by "svc:night" (a nurse)
    *({"event_id": f"g{i}", "timestamp": f"2026-11-03T03:0{i}:00", "user_id": "svc:ghost", "mrn": "MRN-1",
       "action": "view", "purpose_of_use": "TREAT"} for i in range(3)),
    {"event_id": "n1", "timestamp": "2026-11-03T03:00:00", "user_id": "svc:night", "mrn": "MRN-1", "action": "view",
     "purpose_of_use": "TREAT"},
]
NIGHT_NURSE = {"user_id": "svc:night", "first_name": "Nia", "last_name": "Night", "role": "nurse",
               "department": "Dermatology", "hire_date": "2020-01-01", "shift_start": "07:00", "shift_end": "19:00"}


def test_an_export_cannot_hide_rows_behind_a_service_prefix(auditor, tmp_path):
    assert auditor("init").code == 0
    folder = data.write_export(tmp_path / "export", access_log=GHOST_NIGHT, workforce=[*data.WORKFORCE, NIGHT_NURSE])
    loaded = auditor("ingest", str(folder), "--tz", "America/New_York")
    assert loaded.code == 0 and "access_log.csv: 4 lines: 4 loaded" in loaded.out, loaded.err
    out = tmp_path / "findings.json"
    found = auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", "--out", str(out),
                     user="investigator")
    assert found.code == 0, found.err
    by_user: dict[str, set] = {}
    for f in json.loads(out.read_text()):
        by_user.setdefault(f["user_id"], set()).update((f["rule"], e) for e in f["event_ids"])
    assert {("vip-access", e) for e in ("g0", "g1", "g2")} <= by_user["svc:ghost"]
    assert {("vip-access", "n1"), ("after-hours", "n1")} <= by_user["svc:night"]  # her own shift, her own rules


def test_the_monthly_count_keeps_an_exports_service_named_rows(vault, clock):
    populate(vault)
    vault.gateway.append_ehr_events(IMPORT, "ehr", ehr_events(["s1", "s2"], mrn="P-OK", user="svc:report"))
    vault.gateway.read_patients(AccessContext.service("report"), [1, 2])  # the vault's own service reads
    november = Period(date(2026, 11, 1), date(2026, 11, 30), clock.at.tzinfo)
    assert accesses_by_period(vault.records, [november], load_policy(), vault.keyring.log_mac_key) == [4 + 2]  # populate's four, the export's two


def test_an_export_may_not_take_the_vaults_own_source_name(auditor, tmp_path):
    assert auditor("init").code == 0
    vault = Vault.open(tmp_path / "home")
    made = _last_seq(vault)  # init's own events (the ledger's first rows)
    vault.close()
    result = auditor("ingest", str(data.write_export(tmp_path / "export")), "--tz", "UTC", "--source", " Vault")
    assert result.code == 2 and result.err.startswith("auditor: 'vault' is the name of the vault's own events")
    vault = Vault.open(tmp_path / "home")
    try:
        assert _last_seq(vault) == made and organisation_timezone(vault.records) is None  # nothing changed
        with vault.records.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(IngestRun)) == 0
        with pytest.raises(InputError):
            vault.gateway.append_ehr_events(IMPORT, "vault", ehr_events(["v1"]))
    finally:
        vault.close()


# -- item 8: the signed-in account acts, not a name typed; the OS account is recorded beside it ----------
@pytest.fixture
def with_a_case(tmp_path, clock, auditor):
    """A vault whose `auditor findings` (by the privacy officer, signed in) opened case 1."""
    v = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    populate(v)
    assert auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", clock=clock, user="officer").code == 0
    yield v
    v.close()


def test_cases_review_records_the_os_account_not_the_name_typed(with_a_case, auditor, clock, monkeypatch):
    monkeypatch.setenv("USER", "someone.else")  # a caller's environment is not evidence
    monkeypatch.setenv("LOGNAME", "someone.else")
    before = _last_seq(with_a_case)
    typed = auditor("cases", "review", "1", "--by", "Someone Else", clock=clock, user="officer")
    assert typed.code == 2 and typed.err == "auditor: --by is gone: sign in with auditor login USER\n"
    assert _events_after(with_a_case, before) == []
    result = auditor("cases", "review", "1", clock=clock, user="officer")
    assert result.code == 0, result.err
    written = [e for e in _events_after(with_a_case, before) if e.record_type == "case"]
    assert [(e.user_id, e.detail, e.workstation) for e in written] == [("svc:cases", "case 1 put under review by officer",
                                                                          _os_stamp())]


def test_every_event_a_command_writes_names_the_os_account(with_a_case, auditor, clock, monkeypatch):
    monkeypatch.setenv("USER", "someone.else")
    sign_in(None, "records", clock.at)  # its sign-in, made here and not by a command, before the count
    before = _last_seq(with_a_case)
    commands = [
        (None, ("records", "show", "--mrn", "P-OK", "--user", "dr.lee", "--purpose", "TREAT", "--workstation", "WS-9")),
        ("officer", ("suppressions", "add", "--rule", "vip-access", "--user", "dr.lee", "--reason", "on call",
                     "--expires", "2026-12-31")),
        ("records", ("retention", "holds", "place", "--mrn", "P-OK", "--reason", "litigation", "--authority", "counsel")),
        ("officer", ("cases", "note", "1", "--text", "called")),
    ]
    for user, args in commands:
        assert auditor(*args, clock=clock, user=user).code == 0, args
    written = _events_after(with_a_case, before)
    assert {e.record_type for e in written} >= {"chart", "suppression", "legal_hold", "case"}
    stamp = _os_stamp()
    assert all(e.workstation and e.workstation.startswith(stamp) for e in written)
    (chart,) = [e for e in written if e.record_type == "chart"]
    assert chart.workstation == f"{stamp}; WS-9"  # the workstation typed, kept beside it
    assert not any("someone.else" in (e.workstation or "") for e in written)
