"""The tests' vault templates (tests/vault_templates.py): a vault asked for with a fill is a copy of
one filled once, each copy its own; a template whose fill fails leaves no database on the server."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from auditor.vault.settings import set_organisation_timezone
from tests.conftest import FAST_SCRYPT, fresh_vault
from tests.vault_templates import VaultTemplates


def test_a_filled_vault_is_a_copy_of_one_filled_once(request, backend, tmp_path, clock):
    fills = []

    def in_new_york(vault):
        fills.append(vault)
        set_organisation_timezone(vault.gateway, ZoneInfo("America/New_York"))

    first = fresh_vault(request, backend, tmp_path / "first", clock, fill=("in New York", in_new_york))
    second = fresh_vault(request, backend, tmp_path / "second", clock, fill=("in New York", in_new_york))
    try:
        assert len(fills) == 1  # the template, filled once
        assert first.timezone.key == second.timezone.key == "America/New_York"
        set_organisation_timezone(first.gateway, ZoneInfo("Europe/Paris"))
        assert (first.timezone.key, second.timezone.key) == ("Europe/Paris", "America/New_York")  # each its own
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_a_template_whose_fill_fails_leaves_no_database(postgres_url, fresh_postgres_db, tmp_path, clock):
    templates = VaultTemplates(tmp_path / "templates", FAST_SCRYPT)
    made = []

    def failing(vault):
        made.extend([vault.records.url.database, vault.keystore.url.database])
        raise RuntimeError("the fill failed")

    with pytest.raises(RuntimeError, match="the fill failed"):
        templates.vault(tmp_path / "home", clock, (postgres_url, fresh_postgres_db), fill=("failing", failing))
    admin = create_engine(postgres_url)
    try:
        with admin.connect() as conn:
            left = conn.execute(text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                                {"names": made}).all()
    finally:
        admin.dispose()
    assert len(made) == 2 and all(name.startswith("auditor_template_") for name in made) and left == []
    assert templates.made == {}
