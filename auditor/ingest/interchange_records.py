"""From checked interchange rows to what the gateway takes: the checks that need more than one
column, and the conversion of good rows into records and EHR events."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditor.ingest.interchange_files import ACCESS_LOG, NO_PATIENT_ACTIONS, CheckedChunk
from auditor.vault.gateway import (AppointmentRecord, AuthoredRecord, CareTeamRecord, EncounterRecord, OrderRecord,
                                   PatientDemographics, WorkforceRecord)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def check_spans(checked: CheckedChunk) -> None:
    """encounters and care_team: an end before the start cannot be read."""
    clean = checked.clean
    checked.problems.add((clean["end"] < clean["start"]).fillna(False).to_numpy(), "end before start")


def check_order_times(checked: CheckedChunk) -> None:
    """orders: completed before it was placed cannot be read."""
    clean = checked.clean
    checked.problems.add((clean["completed_at"] < clean["placed_at"]).fillna(False).to_numpy(),
                         "completed_at before placed_at")


def check_appointment_times(checked: CheckedChunk) -> None:
    """appointments: scheduled for before it was booked cannot be read."""
    clean = checked.clean
    checked.problems.add((clean["scheduled_for"] < clean["booked_at"]).fillna(False).to_numpy(),
                         "scheduled_for before booked_at")


def check_shift(checked: CheckedChunk) -> None:
    """workforce: a shift needs both ends (it may cross midnight, so any two times will do)."""
    clean = checked.clean
    half = (clean["shift_start"].isna() != clean["shift_end"].isna()).to_numpy()
    checked.problems.add(half & ~checked.problems.rejected, "shift_start and shift_end go together")


def check_access(checked: CheckedChunk) -> None:
    """access_log: every action but a failed login or a search names a patient."""
    mrn, action = checked.columns["mrn"], checked.columns["action"]
    needs = pc.invert(pc.is_in(action, value_set=pa.array(NO_PATIENT_ACTIONS)))
    missing = pc.fill_null(pc.and_(pc.is_null(mrn), needs), False).to_numpy(zero_copy_only=False)
    if missing.any():
        at = np.flatnonzero(missing)
        named = action.take(at).to_pylist()
        checked.problems.add(missing, {i: f"missing mrn (required for action {a})" for i, a in zip(at.tolist(), named)})


def unknown_in(column: pd.Series, known) -> np.ndarray:
    """Rows whose value is given but not among `known`."""
    return (column.notna() & ~column.isin(list(known))).to_numpy()


def _day(value) -> date | None:
    return None if pd.isna(value) else value.date()


def _instant(micros) -> datetime | None:
    return None if pd.isna(micros) else _EPOCH + timedelta(microseconds=int(micros))


def _plain(value):
    return None if pd.isna(value) else value


def _flag(value) -> bool:
    return False if pd.isna(value) else bool(value)  # unknown: not flagged


def patients(rows: pd.DataFrame) -> list[PatientDemographics]:
    return [PatientDemographics(
        mrn=r.mrn, first_name=_plain(r.first_name), last_name=_plain(r.last_name), birth_date=_day(r.birth_date),
        sex=_plain(r.sex), address_line=_plain(r.address_line), city=_plain(r.city), state=_plain(r.state),
        postal_code=_plain(r.postal_code), phone=_plain(r.phone), vip=_flag(r.vip), restricted=_flag(r.restricted),
        deceased_on=_day(r.death_date)) for r in rows.itertuples(index=False)]


def workforce(rows: pd.DataFrame, linked: set[str]) -> list[WorkforceRecord]:
    """`linked`: the patient MRNs that exist (a link to any other is left empty)."""
    return [WorkforceRecord(
        user_id=r.user_id, role=r.role, first_name=_plain(r.first_name), last_name=_plain(r.last_name),
        birth_date=_day(r.birth_date), department=_plain(r.department), hire_date=_day(r.hire_date),
        termination_date=_day(r.termination_date), address_line=_plain(r.address_line), city=_plain(r.city),
        state=_plain(r.state), postal_code=_plain(r.postal_code), phone=_plain(r.phone),
        shift_start=_plain(r.shift_start), shift_end=_plain(r.shift_end),
        patient_mrn=r.patient_mrn if r.patient_mrn in linked else None) for r in rows.itertuples(index=False)]


def encounters(rows: pd.DataFrame, source: str) -> list[EncounterRecord]:
    out = []
    for r in rows.itertuples(index=False):
        start = _instant(r.start)
        out.append(EncounterRecord(source, r.encounter_id, r.mrn, _plain(r.type) or "other", start,
                                   _instant(r.end) or start, _plain(r.department), _plain(r.attending_user_id)))
    return out


def care_team(rows: pd.DataFrame, source: str) -> list[CareTeamRecord]:
    """Each row keyed in the vault by its source and its start as written (not the UTC start, which
    depends on the time zone it is read in)."""
    return [CareTeamRecord(r.mrn, r.user_id, _instant(r.start), _instant(r.end), _plain(r.role), source,
                           r.start_as_written) for r in rows.itertuples(index=False)]


def orders(rows: pd.DataFrame, source: str) -> list[OrderRecord]:
    return [OrderRecord(source, r.order_id, r.mrn, _plain(r.type) or "other", _instant(r.placed_at),
                        _instant(r.completed_at), _plain(r.ordering_user_id), _plain(r.performing_department))
            for r in rows.itertuples(index=False)]


def appointments(rows: pd.DataFrame, source: str) -> list[AppointmentRecord]:
    return [AppointmentRecord(source, r.appointment_id, r.mrn, r.status, _instant(r.booked_at),
                              _instant(r.scheduled_for), _plain(r.department), _plain(r.provider_user_id))
            for r in rows.itertuples(index=False)]


def authored(rows: pd.DataFrame, source: str) -> list[AuthoredRecord]:
    """documents.csv: who signed what kind of document in which chart, when (never a body)."""
    return [AuthoredRecord(source, r.document_id, r.mrn, r.author_user_id, _plain(r.record_type) or "other",
                           _instant(r.signed_at)) for r in rows.itertuples(index=False)]


def access_events(checked: CheckedChunk, good: np.ndarray, as_read: pa.Table) -> pa.Table:
    """The good rows of an access_log chunk as the gateway's EHR_EVENT_COLUMNS (vectorised); `as_read`
    is those rows as read (what the row hash covers)."""
    every = len(good) == checked.problems.size
    c = {name: values if every else values.take(good) for name, values in checked.columns.items()}
    action = c["action"]
    default_outcome = pc.if_else(pc.equal(action, "login_failed"), "denied", "success")
    return pa.table({
        "event_id": c["event_id"], "at_us": pc.fill_null(c["timestamp"], 0), "user_id": c["user_id"],
        "mrn": c["mrn"], "action": action, "record_type": c["record_type"],
        "outcome": pc.coalesce(c["outcome"], default_outcome), "purpose": c["purpose_of_use"],
        "break_glass": pc.fill_null(c["break_glass"], False), "reason": c["reason"], "workstation": c["workstation"],
        "row_hash": pa.array(row_hashes(as_read), pa.binary()),
    })


def row_hashes(table: pa.Table) -> list[bytes]:
    """SHA-256 of each access_log row's canonical bytes: its values exactly as read (untrimmed), in the
    contract's column order (a column the file lacks counts as empty), quoted as RFC 4180 quotes
    (only a value holding a comma, a quote, CR or LF; quotes doubled), joined by commas, UTF-8,
    without a line ending. Column order and unknown columns in the file do not change it."""
    n = table.num_rows
    if not n:
        return []
    empty = pa.array([""] * n, pa.string())
    columns = [_whole(table.column(name)) if name in table.column_names else empty for name in ACCESS_LOG.names]
    lines = _whole(pc.binary_join_element_wise(*columns, ","))
    # a row whose joined values hold a quote, CR, LF or an extra comma needs quoting: rare, one at a time
    quoted = pc.or_(pc.not_equal(pc.count_substring(lines, ","), len(columns) - 1),
                    pc.match_substring_regex(lines, '["\r\n]')).to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * lines.offset).tolist()
    data, sha256 = memoryview(lines.buffers()[2] or b""), hashlib.sha256
    out = [sha256(data[a:b]).digest() for a, b in zip(offsets, offsets[1:])]
    for i in np.flatnonzero(quoted).tolist():
        out[i] = sha256(",".join(_quoted(c[i].as_py()) for c in columns).encode("utf-8")).digest()
    return out


def _whole(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _quoted(value: str) -> str:
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value
