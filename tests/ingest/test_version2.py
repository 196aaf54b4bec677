"""Contract version 2's optional files (orders.csv, appointments.csv, documents.csv): loaded through the
gateway with internal ids and UTC times, into the engine's frames within their reach; every bad row
quarantined with `file:line: reason`; a rerun adds nothing; an export without them reads as before."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from auditor.audit.verify import verify_log
from auditor.ingest.csv_tables import CsvTable
from auditor.ingest.ehr_import import ingest_directory
from auditor.ingest.interchange_files import APPOINTMENTS, DOCUMENTS, ORDERS, checked_chunks
from auditor.ingest.quarantine import rejections
from auditor.policy.frames import Period, load_frames
from auditor.vault.records import Appointment, AuthoredDocument, Order, WorkforceMember
from tests.ingest import interchange_data as data
from tests.ingest.test_interchange import NEW_YORK, count

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), NEW_YORK)
V2 = ("orders.csv", "appointments.csv", "documents.csv")


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _ids(vault) -> tuple[dict[str, int], dict[str, int]]:
    """Internal ids: patients by MRN (through the gateway's blind index), workforce by user id."""
    with vault.records.connect() as conn:
        users = dict(conn.execute(select(WorkforceMember.user_id, WorkforceMember.id)).all())
    return vault.gateway.known_patients(["MRN-1", "MRN-2", "MRN-3"]), users


def _loaded(summary) -> dict[str, tuple[int, int, int, int]]:
    return {name: (c.rows, c.loaded, c.already_present, c.rejected) for name, c in summary.files.items() if name in V2}


def test_a_version2_export_loads_into_the_frames_with_internal_ids_and_utc_times(vault, tmp_path):
    export = data.write_version2(data.write_export(tmp_path / "export"))
    summary = ingest_directory(vault.gateway, export, NEW_YORK)
    assert _loaded(summary) == {"orders.csv": (2, 2, 0, 0), "appointments.csv": (2, 2, 0, 0),
                                "documents.csv": (1, 1, 0, 0)}
    patients, users = _ids(vault)
    frames = load_frames(vault.records, NOVEMBER)
    orders = frames.orders.sort_values("placed_at").reset_index(drop=True)
    assert orders["patient_id"].tolist() == [patients["MRN-1"], patients["MRN-2"]]
    assert orders["ordering_id"].iloc[0] == users["dr.zoe"] and pd.isna(orders["ordering_id"].iloc[1])
    assert orders["performing_department"].tolist() == ["radiology", "pharmacy"]  # compared trimmed, case folded
    assert orders["type"].tolist() == ["imaging", "medication"]
    # 09:00 in New York on 2 November is EST (-5); "-05:00" is exact; Z is UTC; an open order has no end
    assert orders["placed_at"].tolist() == [_utc("2026-11-02 14:00"), _utc("2026-11-03 08:00")]
    assert orders["completed_at"].iloc[0] == _utc("2026-11-02 16:30") and pd.isna(orders["completed_at"].iloc[1])
    booked = frames.appointments.sort_values("booked_at").reset_index(drop=True)
    assert booked["patient_id"].tolist() == [patients["MRN-3"], patients["MRN-1"]]
    assert booked["status"].tolist() == ["cancelled", "booked"] and booked["provider_id"].iloc[1] == users["dr.zoe"]
    assert (booked["booked_at"].iloc[1], booked["scheduled_for"].iloc[1]) == (
        _utc("2026-10-20 14:00"), _utc("2026-11-05 19:00"))  # EDT before the change, EST after
    authored = frames.authored
    assert authored[["patient_id", "author_id", "record_type"]].values.tolist() == [
        [patients["MRN-2"], users["n.anouk"], "note"]]
    assert authored["signed_at"].tolist() == [_utc("2026-10-29 10:15")]
    assert verify_log(vault.records, vault.keyring, [vault.checkpoints.path]).ok


def test_the_frames_hold_the_rows_whose_window_reaches_the_period_and_honour_the_patient(sqlite_vault, tmp_path):
    orders = data.ORDERS + [
        {"order_id": "OLD", "mrn": "MRN-1", "type": "lab", "placed_at": "2026-06-01T08:00", "completed_at": "2026-06-02T08:00"},
        {"order_id": "LONG", "mrn": "MRN-1", "type": "lab", "placed_at": "2026-06-01T08:00", "completed_at": "2026-10-15T08:00"},
        {"order_id": "LATER", "mrn": "MRN-1", "type": "lab", "placed_at": "2027-01-20T08:00"}]
    documents = data.DOCUMENTS + [
        {"document_id": "D-EARLY", "mrn": "MRN-1", "author_user_id": "dr.zoe", "signed_at": "2026-07-01T08:00"}]
    export = data.write_version2(data.write_export(tmp_path / "export"), orders=orders, documents=documents)
    ingest_directory(sqlite_vault.gateway, export, NEW_YORK)
    patients, _ = _ids(sqlite_vault)
    reach = timedelta(days=30)  # 2 October to 31 December
    frames = load_frames(sqlite_vault.records, NOVEMBER, explanation_reach=reach)
    # an order's window runs from its placing to its completion: LONG's completion reaches the period
    assert sorted(frames.orders["type"].tolist()) == ["imaging", "lab", "medication"]
    assert frames.orders["placed_at"].min() == _utc("2026-06-01 12:00")
    assert frames.appointments["status"].tolist() == ["booked"]  # AP2 was for 10 September
    assert frames.authored["signed_at"].tolist() == [_utc("2026-10-29 10:15")]
    assert frames.authored["record_type"].tolist() == ["note"]
    wide = load_frames(sqlite_vault.records, NOVEMBER, explanation_reach=timedelta(days=160))  # from 25 May
    assert (len(wide.orders), len(wide.appointments), len(wide.authored)) == (5, 2, 2)
    assert wide.authored.set_index("signed_at")["record_type"][_utc("2026-07-01 12:00")] == "other"  # none given
    one = load_frames(sqlite_vault.records, NOVEMBER, explanation_reach=reach, patient_id=patients["MRN-1"])
    assert set(one.orders["patient_id"]) == set(one.appointments["patient_id"]) == {patients["MRN-1"]}
    assert len(one.orders) == 2 and one.authored.empty


def test_an_export_without_them_reads_as_before(sqlite_vault, tmp_path):
    summary = ingest_directory(sqlite_vault.gateway, data.write_export(tmp_path / "export"), NEW_YORK)
    assert not set(V2) & set(summary.files) and summary.rejected == []
    frames = load_frames(sqlite_vault.records, NOVEMBER)
    assert frames.orders.empty and frames.appointments.empty and frames.authored.empty
    assert frames.orders["placed_at"].dtype == frames.encounters["start"].dtype  # typed even when empty


BAD = {
    "orders": [dict(order_id="", mrn="MRN-1", placed_at="2026-11-01T08:00"),
               dict(order_id="O4", mrn="MRN-1", placed_at="2026-11-31T08:00"),
               dict(order_id="O5", mrn="MRN-1", type="spa", placed_at="2026-11-01T08:00"),
               dict(order_id="O6", mrn="MRN-404", placed_at="2026-11-01T08:00"),
               dict(order_id="O7", mrn="MRN-1", ordering_user_id="nobody", placed_at="2026-11-01T08:00"),
               dict(order_id="O8", mrn="MRN-1", placed_at="2026-11-02T08:00", completed_at="2026-11-01T08:00"),
               dict(order_id="O1", mrn="MRN-1", placed_at="2026-11-01T08:00"),
               dict(order_id="O9", mrn="MRN-1", placed_at="")],
    "appointments": [dict(appointment_id="AP3", mrn="MRN-1", scheduled_for="2026-11-05T14:00", status="booked"),
                     dict(appointment_id="AP4", mrn="MRN-1", booked_at="2026-11-01T08:00",
                          scheduled_for="2026-11-05T14:00", status="maybe"),
                     dict(appointment_id="AP5", mrn="MRN-1", booked_at="2026-11-01T08:00",
                          scheduled_for="2026-11-05T14:00", status=""),
                     dict(appointment_id="AP6", mrn="MRN-1", provider_user_id="nobody", booked_at="2026-11-01T08:00",
                          scheduled_for="2026-11-05T14:00", status="booked"),
                     dict(appointment_id="AP7", mrn="MRN-1", booked_at="2026-11-05T08:00",
                          scheduled_for="2026-11-01T14:00", status="completed"),
                     dict(appointment_id="AP8", mrn="MRN-404", booked_at="2026-11-01T08:00",
                          scheduled_for="2026-11-05T14:00", status="no_show"),
                     dict(appointment_id="AP1", mrn="MRN-1", booked_at="2026-11-01T08:00",
                          scheduled_for="2026-11-05T14:00", status="arrived")],
    "documents": [dict(document_id="D2", mrn="MRN-1", author_user_id="", signed_at="2026-11-01T08:00"),
                  dict(document_id="D3", mrn="MRN-1", author_user_id="nobody", signed_at="2026-11-01T08:00"),
                  dict(document_id="D4", mrn="MRN-1", author_user_id="dr.zoe", signed_at="yesterday"),
                  dict(document_id="D5", mrn="MRN-1", author_user_id="dr.zoe", record_type="diary",
                       signed_at="2026-11-01T08:00"),
                  dict(document_id="D6", mrn="MRN-404", author_user_id="dr.zoe", signed_at="2026-11-01T08:00"),
                  dict(document_id="D1", mrn="MRN-1", author_user_id="dr.zoe", signed_at="2026-11-01T08:00")],
}
EXPECTED = {
    ("orders.csv", 4, "missing order_id"), ("orders.csv", 5, "bad placed_at (not an ISO 8601 timestamp)"),
    ("orders.csv", 6, "unknown type"), ("orders.csv", 7, "mrn not among the patients"),
    ("orders.csv", 8, "ordering_user_id not in the workforce"), ("orders.csv", 9, "completed_at before placed_at"),
    ("orders.csv", 10, "duplicate order_id (first on line 2)"), ("orders.csv", 11, "missing placed_at"),
    ("appointments.csv", 4, "missing booked_at"), ("appointments.csv", 5, "unknown status"),
    ("appointments.csv", 6, "missing status"), ("appointments.csv", 7, "provider_user_id not in the workforce"),
    ("appointments.csv", 8, "scheduled_for before booked_at"), ("appointments.csv", 9, "mrn not among the patients"),
    ("appointments.csv", 10, "duplicate appointment_id (first on line 2)"),
    ("documents.csv", 3, "missing author_user_id"), ("documents.csv", 4, "author_user_id not in the workforce"),
    ("documents.csv", 5, "bad signed_at (not an ISO 8601 timestamp)"), ("documents.csv", 6, "unknown record_type"),
    ("documents.csv", 7, "mrn not among the patients"), ("documents.csv", 8, "duplicate document_id (first on line 2)"),
}


def bad_version2(folder):
    export = data.write_export(folder)
    return data.write_version2(export, **{name: getattr(data, name.upper()) + rows for name, rows in BAD.items()})


def _rows(vault) -> tuple[int, int, int]:
    return count(vault, Order), count(vault, Appointment), count(vault, AuthoredDocument)


def test_every_bad_row_is_quarantined_with_its_reason_the_good_ones_load_and_a_rerun_adds_nothing(sqlite_vault, tmp_path):
    folder = bad_version2(tmp_path / "bad")
    summary = ingest_directory(sqlite_vault.gateway, folder, NEW_YORK)
    assert {(r.file, r.line, r.reason) for r in summary.rejected} == EXPECTED
    assert {(r.file, r.line, r.reason) for r in rejections(sqlite_vault.records)} == EXPECTED
    assert _loaded(summary) == {"orders.csv": (10, 2, 0, 8), "appointments.csv": (9, 2, 0, 7),
                                "documents.csv": (7, 1, 0, 6)}
    assert _rows(sqlite_vault) == (2, 2, 1)
    for r in summary.rejected:  # reasons name columns, never values
        assert not any(v in r.reason for v in ("MRN-404", "nobody", "spa", "maybe", "diary", "yesterday"))
    again = ingest_directory(sqlite_vault.gateway, folder, NEW_YORK)
    assert _rows(sqlite_vault) == (2, 2, 1) and again.newly_quarantined == 0
    assert _loaded(again) == {"orders.csv": (10, 0, 2, 8), "appointments.csv": (9, 0, 2, 7),
                              "documents.csv": (7, 0, 1, 6)}
    assert len(rejections(sqlite_vault.records)) == len(EXPECTED)


def test_unknown_columns_are_ignored_with_a_warning(sqlite_vault, tmp_path):
    orders = [dict(r, priority="stat") for r in data.ORDERS]
    export = data.write_version2(data.write_export(tmp_path / "x"), orders=orders, appointments=None, documents=None)
    summary = ingest_directory(sqlite_vault.gateway, export, NEW_YORK)
    assert "orders.csv: unknown column(s) priority ignored" in summary.warnings
    assert _loaded(summary) == {"orders.csv": (2, 2, 0, 0)}


def test_the_cli_says_how_many_were_loaded_and_verify_stays_ok(auditor, tmp_path):
    assert auditor("init").code == 0
    folder = bad_version2(tmp_path / "bad")
    first = auditor("ingest", str(folder), "--tz", "America/New_York")
    assert first.code == 0, first.err
    assert "orders.csv: 10 lines: 2 loaded, 0 already present, 8 rejected" in first.out
    assert "appointments.csv: 9 lines: 2 loaded, 0 already present, 7 rejected" in first.out
    assert "documents.csv: 7 lines: 1 loaded, 0 already present, 6 rejected" in first.out
    assert "rejected orders.csv:9: completed_at before placed_at" in first.out
    again = auditor("ingest", str(folder))
    assert "orders.csv: 10 lines: 0 loaded, 2 already present, 8 rejected" in again.out
    listed = auditor("ingest", "--rejected")
    assert "documents.csv:4: author_user_id not in the workforce" in listed.out
    checked = auditor("audit", "verify")
    assert checked.code == 0 and "OK" in checked.out, checked.out


# -- the readers: junk never crashes them, and never costs a good row -------------------------------------------
_JUNK = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", '"', ",", "\n", "2026-13-01T00:00", "NULL", "é"]))
_SPECS = {"orders.csv": (ORDERS, data.ORDERS), "appointments.csv": (APPOINTMENTS, data.APPOINTMENTS),
          "documents.csv": (DOCUMENTS, data.DOCUMENTS)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(_SPECS)), junk=st.lists(st.dictionaries(st.sampled_from(
    ["order_id", "appointment_id", "document_id", "mrn", "ordering_user_id", "provider_user_id", "author_user_id",
     "type", "status", "record_type", "placed_at", "completed_at", "booked_at", "scheduled_for", "signed_at"]),
    _JUNK, max_size=6), min_size=1, max_size=4))
def test_junk_cells_never_crash_the_readers_nor_lose_a_good_row(tmp_path_factory, name, junk):
    spec, good = _SPECS[name]
    columns = list(spec.names)
    junk_rows = [{c: str(v) for c, v in row.items() if c in columns} for row in junk]
    rows = [dict(r, **{spec.key[0]: f"junk-{i}-" + str(r.get(spec.key[0], ""))}) for i, r in enumerate(junk_rows)]
    path = data.write_csv(tmp_path_factory.mktemp("junk") / name, good + rows, columns)
    table = CsvTable(path, spec.names)
    kept, rejected_lines = [], set()
    for checked, positions, rejected in checked_chunks(table, spec, NEW_YORK):
        kept += checked.clean.iloc[positions][spec.key[0]].tolist()
        rejected_lines |= {e.line for e in rejected}
        assert all(e.reason for e in rejected)
    assert set(kept) >= {r[spec.key[0]] for r in good}  # the good rows, whatever follows them
    assert not rejected_lines & {2 + i for i in range(len(good))}
