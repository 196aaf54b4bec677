"""An export loaded as use cases: the zone chosen (stored, or refused when it would change a vault
that holds data unasked) before anything is loaded, then the export through the gateway."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from auditor.errors import InputError
from auditor.review.ingest import choose_timezone, ingest_export, quarantined
from tests.ingest.interchange_data import write_export

NEW_YORK, PARIS = ZoneInfo("America/New_York"), ZoneInfo("Europe/Paris")


def test_the_zone_is_chosen_before_anything_loads(sqlite_vault, tmp_path):
    with pytest.raises(InputError, match="no organisation time zone is stored yet"):
        choose_timezone(sqlite_vault, None)
    chosen = choose_timezone(sqlite_vault, NEW_YORK)
    assert (chosen.zone, chosen.given, chosen.previous) == (NEW_YORK, True, None)
    summary = ingest_export(sqlite_vault, write_export(tmp_path / "export"), chosen.zone)
    assert summary.files["patients.csv"].loaded > 0 and quarantined(sqlite_vault) == []
    stored = choose_timezone(sqlite_vault, None)
    assert (stored.zone, stored.given, stored.previous) == (NEW_YORK, False, "America/New_York")
    with pytest.raises(InputError, match="add --change-timezone"):
        choose_timezone(sqlite_vault, PARIS)
    assert sqlite_vault.timezone == NEW_YORK  # refused: nothing stored
    changed = choose_timezone(sqlite_vault, PARIS, change_timezone=True)
    assert (changed.previous, sqlite_vault.timezone) == ("America/New_York", PARIS)
