"""`auditor ingest` run again: nothing is added, not even to the quarantine; changed content under a
loaded event id is rejected; loaded events are found in any id order and under any database collation."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from auditor.ingest.ehr_import import ingest_directory
from auditor.ingest.quarantine import rejections
from auditor.audit.verify import verify_log
from auditor.vault.gateway import AccessContext, CareTeamRecord, EncounterRecord
from auditor.vault.records import CareTeamMember, IngestRun
from tests.ingest import interchange_data as data
from tests.ingest.test_interchange import EXPECTED, NEW_YORK, bad_export, count, ehr_events, everything


def test_rerun_adds_nothing_not_even_to_the_quarantine(vault, tmp_path):
    folder = bad_export(tmp_path / "bad")
    first = ingest_directory(vault.gateway, folder, NEW_YORK)
    before = everything(vault)
    second = ingest_directory(vault.gateway, folder, NEW_YORK)
    assert everything(vault) == before
    assert second.newly_quarantined == 0 and first.newly_quarantined == len(EXPECTED)
    assert {n: (c.loaded, c.already_present) for n, c in second.files.items()} == {
        n: (0, c.loaded + c.already_present) for n, c in first.files.items()}
    assert count(vault, IngestRun) == 2 and len(rejections(vault.records)) == len(EXPECTED)


def test_changed_content_under_a_loaded_event_id_is_rejected_not_overwritten(vault, tmp_path):
    ingest_directory(vault.gateway, data.write_export(tmp_path / "one"), NEW_YORK)
    changed = [dict(data.ACCESS_LOG[0], user_id="n.anouk")] + data.ACCESS_LOG[1:]
    summary = ingest_directory(vault.gateway, data.write_export(tmp_path / "two", access_log=changed), NEW_YORK)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (2, "event_id already loaded from source ehr with different content")]
    assert ehr_events(vault)["a1"].user_id == "dr.zoe"


def test_reruns_are_found_whether_or_not_the_export_is_in_event_id_order(vault, tmp_path):
    """The loaded events are looked up by one range of event ids, or id by id when the range holds
    many other events (an export not in id order): both find every event already loaded."""
    many = [dict(data.ACCESS_LOG[0], event_id=f"e{i:03d}", workstation=f"WS-{i}") for i in range(40)]
    ingest_directory(vault.gateway, data.write_export(tmp_path / "one", access_log=many), NEW_YORK)
    spread = [many[0], dict(many[20], user_id="n.anouk"), dict(many[0], event_id="e020a"), many[39]]
    summary = ingest_directory(vault.gateway, data.write_export(tmp_path / "two", access_log=spread), NEW_YORK)
    log = summary.files["access_log.csv"]
    assert (log.loaded, log.already_present, log.rejected) == (1, 2, 1)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (3, "event_id already loaded from source ehr with different content")]
    in_order = ingest_directory(vault.gateway, data.write_export(tmp_path / "three", access_log=many[5:9]), NEW_YORK)
    assert (in_order.files["access_log.csv"].loaded, in_order.files["access_log.csv"].already_present) == (0, 4)


@pytest.mark.postgres
def test_reruns_are_found_on_a_postgres_database_with_a_language_collation(fresh_postgres_db, tmp_path, clock):
    """Under en-US "a1" sorts before "B2" and its bytes after it: the range of loaded ids is taken in
    byte order on every database (r0008), so a rerun finds them all and adds nothing."""
    from auditor.home import create_home
    from tests.conftest import FAST_SCRYPT

    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT,
                        database_url=fresh_postgres_db(icu_locale="en-US"), keystore_url=fresh_postgres_db())
    try:
        ids = ["B2", "a1", "b3", "A4", "_5", "\u00e96"]  # é6: UTF-8 bytes after every ASCII letter
        log = [dict(data.ACCESS_LOG[0], event_id=i, workstation=f"WS-{n}") for n, i in enumerate(ids)]
        folder = data.write_export(tmp_path / "export", access_log=log)
        first = ingest_directory(vault.gateway, folder, NEW_YORK).files["access_log.csv"]
        before = everything(vault)
        again = ingest_directory(vault.gateway, folder, NEW_YORK).files["access_log.csv"]
        assert (first.loaded, again.loaded, again.already_present, again.rejected) == (6, 0, 6, 0)
        assert everything(vault) == before
        assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok
    finally:
        vault.close()


def test_care_team_is_not_duplicated_by_the_gateway(vault, clock):
    ingest_directory_ctx = AccessContext.service("import")
    g = vault.gateway
    from auditor.vault.gateway import PatientDemographics, WorkforceRecord

    g.register_patients(ingest_directory_ctx, [PatientDemographics("M-9")])
    g.register_workforce(ingest_directory_ctx, [WorkforceRecord("u9", "nurse")])
    member = CareTeamRecord("M-9", "u9", clock.at)
    for _ in range(2):
        g.add_encounters(ingest_directory_ctx, [EncounterRecord("t", "X1", "M-9", "other", clock.at, clock.at)],
                         [member, member])
        assert g.add_care_team(ingest_directory_ctx, [member]) == 0
    assert count(vault, CareTeamMember) == 1


def test_a_care_team_row_loaded_before_r0011_is_recognised_and_keyed_then_survives_a_new_zone(vault, tmp_path):
    """A row from before r0011 has no key: the next ingest in its zone finds it by its UTC start and
    gives it the key, so that a later change of zone finds it too."""
    folder = data.write_export(tmp_path / "x")
    ingest_directory(vault.gateway, folder, NEW_YORK)
    with vault.records.begin() as conn:
        conn.execute(update(CareTeamMember).values(source=None, source_start=None))
    again = ingest_directory(vault.gateway, folder, NEW_YORK).files["care_team.csv"]
    assert (again.loaded, again.already_present) == (0, 1)
    with vault.records.connect() as conn:
        assert conn.execute(select(CareTeamMember.source, CareTeamMember.source_start)).all() == [
            ("ehr", "2026-10-28T22:00:00")]
    moved = ingest_directory(vault.gateway, folder, ZoneInfo("Asia/Tokyo")).files["care_team.csv"]
    assert (moved.loaded, moved.already_present) == (0, 1) and count(vault, CareTeamMember) == 1


def test_care_team_rows_of_two_sources_with_the_same_start_are_two_rows(vault, tmp_path):
    folder = data.write_export(tmp_path / "x")
    ingest_directory(vault.gateway, folder, NEW_YORK)
    other = ingest_directory(vault.gateway, folder, NEW_YORK, source="cerner").files["care_team.csv"]
    assert other.loaded == 1 and count(vault, CareTeamMember) == 2


def test_migration_r0011_adds_the_care_team_key_as_the_model_has_it(tmp_path):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from auditor import database

    engine = database.connect(f"sqlite:///{tmp_path / 'old.db'}", must_exist=False)
    config = database._alembic_config("records", engine)
    command.upgrade(config, "r0008")
    database.upgrade("records", engine)
    assert {"source", "source_start"} <= {c["name"] for c in inspect(engine).get_columns("care_team")}
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), database.RecordsBase.metadata)
    assert [d for d in differences if "care_team" in repr(d)] == []
    command.downgrade(config, "r0008")
    assert "source" not in {c["name"] for c in inspect(engine).get_columns("care_team")}
    engine.dispose()
