"""One audited unit of work for every service desk: the gateway's transaction machinery is private to
auditor/vault/gateway/, every desk (casework, release of information, retention, the directory) runs
on AccessGateway.unit_of_work, and any desk's work can record events and stage files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from auditor.audit.schema import AuditEventRow
from auditor.errors import AccessDenied, AuditWriteFailed
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.gateway.release import ReleaseDesk
from auditor.vault.gateway.retention import RecordsManagement
from auditor.vault.gateway.service_work import ServiceDesk
from auditor.vault.records import Suppression

PACKAGE = Path(__file__).resolve().parents[2] / "auditor"
PRIVATE = re.compile(r"\.(_event|_audited|_require|_actor|_record_rows)\(")


def private_gateway_calls(package: Path) -> list[str]:
    """Where a module of `package` outside auditor/vault/gateway/ calls the gateway's transaction
    machinery ("path:line name")."""
    inside = package / "vault" / "gateway"
    found = []
    for path in sorted(package.rglob("*.py")):
        if inside in path.parents:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found += [f"{path.relative_to(package.parent)}:{number} {m.group(1)}" for m in PRIVATE.finditer(line)]
    return found


def test_no_module_outside_the_gateway_uses_its_private_transaction_methods():
    assert private_gateway_calls(PACKAGE) == []


def test_the_check_would_catch_a_caller(tmp_path):
    package = tmp_path / "auditor"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "roi" / "shortcut.py").write_text(
        "def log(change):\n    change.events.append(change.gateway._event(change.ctx, None, 'view', change.at))\n"
        "def run(gateway, work):\n    return gateway._audited(work)\n")
    assert private_gateway_calls(package) == ["auditor/roi/shortcut.py:2 _event", "auditor/roi/shortcut.py:4 _audited"]


def test_every_desk_runs_on_the_one_unit_of_work(sqlite_vault):
    g = sqlite_vault.gateway
    desks = [Casework(g), ReleaseDesk(g), RecordsManagement(g), ReportDirectory(g)]
    assert all(isinstance(d, ServiceDesk) for d in desks)
    assert [d.ctx.user_id for d in desks] == ["svc:cases", "svc:roi", "svc:retention", "svc:report"]
    assert [d.ctx.purpose for d in desks] == ["HOPERAT", "HOPERAT", "RECORDMGT", "HOPERAT"]


def _events(vault) -> list:
    with vault.records.connect() as conn:
        return conn.execute(select(AuditEventRow.user_id, AuditEventRow.action, AuditEventRow.purpose,
                                   AuditEventRow.record_type, AuditEventRow.record_id, AuditEventRow.outcome,
                                   AuditEventRow.detail).order_by(AuditEventRow.seq)).all()


def test_any_desks_work_records_its_events_and_stages_files_with_its_commit(sqlite_vault, tmp_path):
    """Casework stages a file as a release does: placed with the commit, taken away when it fails."""
    before = len(_events(sqlite_vault))
    out = tmp_path / "out"
    out.mkdir()

    def work(change):
        change.record("case", 7, "an export of case 7 written")
        change.record("case", 7, "read for a request", action="view", purpose="PATRQT")
        return change.stage(out, {"case-7.html": "<p>case 7</p>"})

    (path,) = Casework(sqlite_vault.gateway).change("create", work)
    assert path.read_text() == "<p>case 7</p>" and oct(path.stat().st_mode & 0o777) == "0o600"
    made = _events(sqlite_vault)[before:]
    assert [(e.user_id, e.action, e.purpose, e.record_type, e.record_id, e.detail) for e in made] == [
        ("svc:cases", "create", "HOPERAT", "case", "7", "an export of case 7 written"),
        ("svc:cases", "view", "PATRQT", "case", "7", "read for a request")]

    def failing(change):
        change.stage(out, {"case-8.html": "<p>case 8</p>"})
        change.record("case", 8, "an export of case 8 written")
        # a row the database refuses, flushed only by the commit, after the files were placed
        change.session.add(Suppression(id=1, rule="r", expires_on=None, approver="a", data_key_id=1, reason=b"",
                                       created_at=change.at))

    with pytest.raises(AuditWriteFailed):
        Casework(sqlite_vault.gateway).change("create", failing)
    assert sorted(p.name for p in out.iterdir()) == ["case-7.html"]
    assert len(_events(sqlite_vault)) == before + 2


def test_only_a_service_account_does_the_offices_work_and_a_refusal_is_audited(population):
    nurse = AccessContext("n.joy", "TREAT")
    before = len(_events(population))
    with pytest.raises(AccessDenied, match="not one of the auditor's service accounts"):
        ReportDirectory(population.gateway, nurse).mrns([1])
    with pytest.raises(AccessDenied, match="not one of the auditor's service accounts"):
        Casework(population.gateway, nurse).change("create", lambda change: change.record("case", 1, "x"))
    refused = _events(population)[before:]
    assert [(e.user_id, e.action, e.outcome) for e in refused] == [("n.joy", "view", "denied"),
                                                                    ("n.joy", "create", "denied")]
