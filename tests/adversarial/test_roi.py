"""Someone typing any `--out` to `auditor roi fulfill`, `deny` or `accounting`: a folder that cannot be
written (a full disk, a path under a file) leaves the request, its history, the disclosures ledger and
the audit log exactly as they were, says so in one line with exit status 2, and a retry succeeds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from auditor.audit.schema import AuditEventRow
from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.vault.records import Disclosure, ReleaseRequest, ReleaseRequestHistory
from tests.conftest import FAST_SCRYPT
from tests.roi.conftest import TODAY, populate

PACKET = {"release-packet.html", "release-packet.pdf"}
ACCOUNTING = {"accounting.html", "accounting.pdf"}
# command -> (options of its request, the files it writes, the request's status after it)
COMMANDS = {
    "fulfill": ((), PACKET, "fulfilled"),
    "fulfill-fhir": (("--format", "fhir"), PACKET | {"bundle.json"}, "fulfilled"),
    "deny": ((), {"denial-letter.html", "denial-letter.pdf"}, "denied"),
    "accounting": ((), ACCOUNTING, "in_review"),  # answers no request: only its audit events to roll back
    "accounting-request": (("--accounting",), ACCOUNTING, "fulfilled"),
}


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    populate(vault)
    yield vault
    vault.close()


@pytest.fixture
def roi(auditor, home):
    def run(*args):
        return auditor("roi", *map(str, args), clock=FixedClock(TODAY), user="coordinator")

    return run


def reviewed_request(roi, *extra) -> int:
    done = roi("request", "--mrn", "P-1", "--requester-type", "patient", "--name", "Zoe Muller", "--address",
               "12 Main Street", "--received", "2026-11-20", *extra)
    assert done.code == 0, done.err
    rid = int(done.out)
    assert roi("review", rid).code == 0
    return rid


def command(what: str, rid: int, out) -> tuple:
    if what.startswith("fulfill"):
        return ("fulfill", rid, "--out", out)
    if what == "deny":
        return ("deny", rid, "--basis", "danger", "--contact", "Privacy Office", "--out", out)
    answers = ("--request", rid) if what == "accounting-request" else ()
    return ("accounting", "--mrn", "P-1", "--out", out, *answers)


def state(vault, rid: int) -> dict:
    """Everything a failed command must leave as it was."""
    with vault.records.connect() as conn:
        return {
            "request": conn.execute(select(ReleaseRequest.status, ReleaseRequest.due_on)
                                    .where(ReleaseRequest.id == rid)).one(),
            "history": conn.execute(select(ReleaseRequestHistory.position, ReleaseRequestHistory.action,
                                           ReleaseRequestHistory.status).where(ReleaseRequestHistory.request_id == rid)
                                    .order_by(ReleaseRequestHistory.position)).all(),
            "ledger": conn.execute(select(Disclosure.id, Disclosure.request_id)).all(),
            "events": conn.scalar(select(func.count()).select_from(AuditEventRow.__table__)),
        }


@pytest.fixture(params=["full disk", "under a file"])
def unwritable(request, tmp_path):
    """An --out folder that cannot be written, as root too (root ignores folder modes)."""
    if request.param == "full disk":
        return request.getfixturevalue("full_disk") / "packet"
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "packet"


@pytest.mark.parametrize("what", sorted(COMMANDS))
def test_an_unwritable_out_changes_nothing_and_a_retry_succeeds(roi, home, tmp_path, unwritable, what):
    options, files, status = COMMANDS[what]
    rid = reviewed_request(roi, *options)
    before = state(home, rid)
    failed = roi(*command(what, rid, unwritable))
    assert failed.code == 2, failed.err
    assert failed.err.count("\n") == 1 and "internal error" not in failed.err and "cannot" in failed.err
    assert failed.out == ""  # no "fulfilled" or "denied" for what did not happen
    assert state(home, rid) == before
    assert not unwritable.exists() or not any(unwritable.iterdir())  # no packet, no temporary file
    retried = roi(*command(what, rid, tmp_path / "retry"))
    assert retried.code == 0, retried.err
    assert {p.name for p in (tmp_path / "retry").iterdir()} == files
    after = state(home, rid)
    assert after["request"].status == status and after["events"] > before["events"]
    assert len(after["ledger"]) == len(before["ledger"]) + what.startswith("fulfill")
