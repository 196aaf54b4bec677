"""The organisation's time zone and today are decided in one place, the vault: UTC until an ingest
stores a zone, then that zone, as another process last stored it."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from auditor.clock import FixedClock
from auditor.home import Vault, create_home

NEW_YORK = ZoneInfo("America/New_York")


def test_today_is_a_utc_day_until_a_zone_is_stored_then_the_organisations(tmp_path):
    # 03:00 UTC on 2 November is still 1 November in New York
    vault = create_home(tmp_path / "home", clock=FixedClock(datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)))
    try:
        assert vault.stored_timezone is None and vault.timezone.key == "UTC"
        assert vault.today() == date(2026, 11, 2)
        assert vault.set_timezone(NEW_YORK) is None
        assert vault.stored_timezone == NEW_YORK == vault.timezone
        assert vault.today() == date(2026, 11, 1)
    finally:
        vault.close()


def test_a_zone_another_process_stores_is_seen_by_an_open_vault(tmp_path):
    clock = FixedClock(datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc))
    vault = create_home(tmp_path / "home", clock=clock)
    other = Vault.open(tmp_path / "home", clock=clock)
    try:
        assert vault.today() == date(2026, 11, 2)
        other.set_timezone(NEW_YORK)  # e.g. `auditor ingest --tz` while the web app runs
        assert vault.timezone == NEW_YORK and vault.today() == date(2026, 11, 1)
    finally:
        other.close()
        vault.close()
