"""Release of information as use cases: a request received today (the organisation's), reviewed,
fulfilled with its packet, out of the queue, and in the patient's accounting of disclosures."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from auditor.clock import FixedClock
from auditor.home import create_home
from auditor.reporting.templates import load_site
from auditor.review import release
from auditor.roi.workflow import NewRequest
from tests.conftest import FAST_SCRYPT
from tests.roi.conftest import populate


@pytest.fixture
def desk_vault(tmp_path):
    """03:00 UTC on 2 December 2026: still 1 December in New York, the organisation's zone."""
    vault = create_home(tmp_path / "home", clock=FixedClock(datetime(2026, 12, 2, 3, tzinfo=timezone.utc)),
                        scrypt_n=FAST_SCRYPT)
    populate(vault)
    vault.set_timezone(ZoneInfo("America/New_York"))
    yield vault
    vault.close()


def test_a_request_from_intake_to_the_accounting(desk_vault, tmp_path):
    vault, site = desk_vault, load_site(None)
    new = NewRequest("P-1", "public_health", "State Health Dept", "250 Washington St", None, ("lab",))
    rid = release.open_request(vault, new, "R. Coordinator")
    (entry,) = release.request_queue(vault)
    assert (entry.request_id, entry.received_on, entry.status) == (rid, date(2026, 12, 1), "received")
    assert release.review_request(vault, rid, "R. Coordinator") == "in_review"
    done = release.fulfil(vault, rid, "R. Coordinator", tmp_path / "packet", site)
    assert done.status == "partly_approved" and done.documents == 1 and all(p.exists() for p in done.paths)
    assert release.request_queue(vault) == []
    release.close(vault, rid, "R. Coordinator")
    accounting = release.accounting(vault, "P-1", tmp_path / "accounting", site, pdf=False)
    assert accounting.entries == 1 and [p.name for p in accounting.paths] == ["accounting.html"]
    assert "State Health Dept" in accounting.paths[0].read_text(encoding="utf-8")
