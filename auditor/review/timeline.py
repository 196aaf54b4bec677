"""A case's timeline: the member's accesses around the case's findings (an hour either side of each
finding's first and last access), in time order, each marked when a finding cites it and with the
explanation that holds, if one does.

The review that attaches findings to a case cuts this from the accesses it has just judged
(`ReviewedAccesses`) and keeps it with the case, sealed (auditor.cases.timelines): the page reads
those parts, as the review judged them. A finding no part covers (a case reviewed before r0017, or a
part someone deleted), and a window reaching outside the period its review judged, are read from the
log: only those windows, and only the member's events and their patients' context (auditor.policy.
member_frames).

Clear columns only (the time, the action, the record type, the purpose, break-the-glass and whether
a reason is on file): nothing is opened. The page names only the patients the case's findings name
(read as the signed-in reader); any other patient stays "another patient", so that reading the
timeline does not make the office open charts the case does not concern."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from auditor.audit.events import to_microseconds
from auditor.cases.listing import CaseFile
from auditor.cases.timelines import MAX_STORED, Cut, TimelinePart, case_parts
from auditor.database import read_snapshot
from auditor.home import Vault
from auditor.policy.context import build_context
from auditor.policy.findings import Finding
from auditor.policy.frames import Period
from auditor.policy.member_frames import Window, load_member_frames, merged
from auditor.policy.rules import Policy, load_policy

AROUND = timedelta(hours=1)  # either side of a finding's first and of its last access
MAX_WINDOWS = 40  # windows read from the log for one page (the earliest findings'; the page says how many are left out)
MAX_ENTRIES = 500  # a member's accesses over a case's span: beyond this the page says how many are left out
_US = pd.Timedelta(microseconds=1)
_EPOCH = pd.Timestamp(0, tz="UTC")
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class TimelineEntry:
    seq: int  # the access's place in the audit log (its reason, if any, is read by that)
    at: datetime  # in the organisation's time zone
    action: str
    record_type: str | None
    purpose: str | None
    patient_id: int | None  # internal: the page names only the patients of the findings
    break_glass: bool
    reason_on_file: bool
    explained_by: str | None
    cited: bool  # a finding of the case cites this access


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    total: int  # the member's accesses in the windows (entries may be fewer: MAX_ENTRIES)
    windows: int = 0  # the windows its entries come from
    windows_left_out: int = 0  # windows not read from the log (beyond 2 * MAX_WINDOWS)
    as_of: datetime | None = None  # when the latest review that kept a part judged it (None: all read now)
    from_log: int = 0  # windows read from the log now (none when the kept parts cover every finding)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None  # a missing category is NaN


def _utc(moment) -> pd.Timestamp:
    at = pd.Timestamp(moment)
    return at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")


def _windows(spans: Iterable[tuple], around: timedelta) -> list[Window]:
    out = []
    for first, last in spans:
        for moment in {_utc(first), _utc(last)}:
            out.append((moment - around, moment + around))
    return sorted(out)


def windows_around(file: CaseFile, around: timedelta = AROUND) -> list[Window]:
    """An hour either side of each finding's first access and of its last (UTC)."""
    return _windows(((f.first_at, f.last_at) for f in file.findings), around)


def _us(at: pd.Timestamp) -> int:
    return int(at.value // 1000)


def _moment_us(moment) -> int:
    """A finding's time (its ISO text, as build_findings writes it, or a datetime) in microseconds since
    the epoch, UTC (a time without a zone is UTC, as in _utc)."""
    if isinstance(moment, str):
        try:
            at = datetime.fromisoformat(moment)
        except ValueError:
            return _us(_utc(moment))
        return to_microseconds(at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc))
    return _us(_utc(moment))


def _stored_entry(e: list, tz, cited: set[str]) -> TimelineEntry:
    seq, at_us, action, record_type, purpose, patient_id, break_glass, has_reason, explained_by, ref = e
    at = (_EPOCH + pd.Timedelta(microseconds=at_us)).tz_convert(tz).to_pydatetime()
    return TimelineEntry(seq, at, action, record_type, purpose, patient_id, break_glass, has_reason, explained_by,
                         ref in cited)


def _outside(windows: list[Window], start_us: int, end_us: int) -> list[Window]:
    """The parts of `windows` before start_us or from end_us on."""
    start, end = _EPOCH + pd.Timedelta(microseconds=start_us), _EPOCH + pd.Timedelta(microseconds=end_us)
    out = []
    for a, b in windows:
        if a < start:
            out.append((a, min(b, start)))
        if b > end:
            out.append((max(a, end), b))
    return out


def _from_log(vault: Vault, user_id: str, windows: list[Window], policy: Policy, cited: set[str]) -> list[TimelineEntry]:
    """The member's accesses in `windows`, read from the log and explained now."""
    tz = vault.timezone
    span = Period(windows[0][0].tz_convert(tz).date(), windows[-1][1].tz_convert(tz).date(), tz)
    frames = load_member_frames(vault.records, user_id, windows, span, log_key=vault.keyring.log_mac_key)
    accesses = build_context(frames, policy.settings).accesses
    mine = accesses[accesses["user_id"] == user_id].sort_values("at", kind="stable")
    return [TimelineEntry(int(a.seq), a.at.tz_convert(tz).to_pydatetime(), str(a.action), _text(a.record_type),
                          _text(a.purpose), None if a.patient_id != a.patient_id else int(a.patient_id),
                          bool(a.break_glass), bool(a.has_reason), str(a.explained_by) if a.explained else None,
                          a.event_ref in cited)
            for a in mine.itertuples()]


def member_timeline(vault: Vault, file: CaseFile, policy: Policy | None = None, around: timedelta = AROUND,
                    limit: int = MAX_ENTRIES, stored: bool = True) -> Timeline:
    """The case's member's accesses within `around` of each finding's first and last access, oldest
    first: the parts its reviews kept (AlteredTimeline if one is not as sealed), and the log for what
    they do not cover. `stored` False: all of it from the log."""
    case, cited = file.case, {ref for f in file.findings for ref in f.event_ids}
    parts: list[TimelinePart] = []
    if stored and around == AROUND:
        with vault.records.connect() as conn:
            read_snapshot(conn)
            parts = case_parts(conn, case.id, vault.keyring.log_mac_key)
    covering = {fid: part for part in parts for fid in part.finding_ids}
    entries: dict[int, TimelineEntry] = {}
    beyond = 0  # accesses parts counted but did not keep (MAX_STORED)
    tz = vault.timezone  # read once: the vault reads it from the database
    for part in parts:
        for e in part.cut.entries:
            if e[0] not in entries:
                entries[e[0]] = _stored_entry(e, tz, cited)
        beyond += part.cut.total - len(part.cut.entries)
    unread: list[Window] = []
    for f in file.findings:
        own = _windows([(f.first_at, f.last_at)], around)
        part = covering.get(f.finding_id)
        unread += own if part is None else _outside(own, part.cut.start_us, part.cut.end_us)
    unread.sort()
    kept = unread[: 2 * MAX_WINDOWS]  # the earliest findings' (two windows each)
    if kept:
        for e in _from_log(vault, case.user_id, merged(kept), policy or load_policy(), cited):
            entries.setdefault(e.seq, e)
    ordered = sorted(entries.values(), key=lambda e: (e.at, e.seq))
    windows = sum(p.cut.windows for p in parts) + len(kept)
    as_of = max((p.computed_at for p in parts), default=None)
    as_of = as_of.astimezone(vault.timezone) if as_of is not None else None
    return Timeline(ordered[:limit], len(ordered) + beyond, windows, len(unread) - len(kept), as_of, len(kept))


class ReviewedAccesses:
    """The accesses a review judged, by member and time, and those of the hour either side of its period
    (explained as the page would explain them, `edges`): the review cuts each case's part of its
    timeline from these, so a window that reaches over the period's edge needs no read of the log."""

    def __init__(self, judged: list[pd.DataFrame], start_us: int, end_us: int) -> None:
        # Only the order is made here (by member, time and sequence: 32 bytes an access); the values a
        # cut keeps are read from the judged frames themselves, for its rows alone. Making them Python
        # objects up front cost more than the review's frames at 60 million events.
        parts = [a for a in judged if len(a)]
        at_us = np.concatenate([((a["at"].dt.tz_convert("UTC") - _EPOCH) // _US).to_numpy(dtype="int64") for a in parts]) \
            if parts else np.empty(0, dtype="int64")
        codes, names = pd.factorize(pd.concat([a["user_id"].astype(object) for a in parts], ignore_index=True)
                                    if parts else pd.Series([], dtype=object))
        seq = np.concatenate([a["seq"].to_numpy(dtype="int64") for a in parts]) if parts else np.empty(0, dtype="int64")
        order = np.lexsort((seq, at_us, codes))
        self._codes, self._at, self._seq, self._order = codes[order], at_us[order], seq[order], order
        self._users = {u: n for n, u in enumerate(names)}
        self._start_us, self._end_us = start_us, end_us
        self._parts = [{name: _taker(a[name], convert) for name, convert in _READ.items()} for a in parts]
        self._offsets = np.cumsum([0, *(len(a) for a in parts)])

    def _entries(self, kept: np.ndarray) -> list[list]:
        """The entries (ENTRY_FIELDS) of sorted positions `kept`, read from the frames they came from."""
        rows = self._order[kept]
        part_of = np.searchsorted(self._offsets, rows, "right") - 1
        values = {name: np.empty(len(kept), dtype=object) for name in _READ}
        for p in np.unique(part_of):
            mine = part_of == p
            at = rows[mine] - self._offsets[p]
            for name, take in self._parts[p].items():
                values[name][mine] = take(at)
        why = np.where(values["explained"].astype(bool), values["explained_by"], None)
        columns = [self._seq[kept], self._at[kept], values["action"], values["record_type"], values["purpose"],
                   values["patient_id"], values["break_glass"], values["has_reason"], why, values["event_ref"]]
        return [list(r) for r in zip(*(c.tolist() for c in columns))]

    @classmethod
    def of_review(cls, vault: Vault, period: Period, accesses: pd.DataFrame, policy: Policy,
                  around: timedelta = AROUND) -> "ReviewedAccesses":
        """The period's judged `accesses`, and the hour either side of it read from the log here."""
        start, end = period.start, period.end
        edges = Period(period.first_day - timedelta(days=1), period.last_day + timedelta(days=1), period.tz)
        frames = load_member_frames(vault.records, None, [(start - around, start), (end, end + around)], edges,
                                    log_key=vault.keyring.log_mac_key)
        edge = build_context(frames, policy.settings).accesses
        return cls([accesses, edge], _us(start - around), _us(end + around))

    def cuts(self, wanted: list[tuple[str, list[Finding]]], around: timedelta = AROUND) -> list[Cut]:
        """For each (member, findings): the member's accesses within `around` of the findings' first and
        last access. The windows are windows_around's, in microseconds (a pandas Timestamp per moment
        cost 6 of a review's 50 s at 10M); the entries of all of them are read in one pass over the
        judged columns (a pass per case cost 9 pandas takes each)."""
        half = around // _ONE_US
        shapes, kept = [], []
        for user_id, findings in wanted:
            raw = sorted((at - half, at + half) for f in findings for at in {_moment_us(f.first_at), _moment_us(f.last_at)})
            positions = self._positions(user_id, merged(raw))
            shapes.append((len(raw), len(positions)))
            kept.append(positions[:MAX_STORED])
        entries = self._entries(np.concatenate(kept)) if kept else []
        out, at = [], 0
        for (windows, total), positions in zip(shapes, kept):
            out.append(Cut(self._start_us, self._end_us, windows, total, entries[at : at + len(positions)]))
            at += len(positions)
        return out

    def _positions(self, user_id: str, windows: list[tuple[int, int]]) -> np.ndarray:
        """Sorted positions of the member's accesses in `windows` (merged, microseconds)."""
        code = self._users.get(user_id)
        if code is None or not windows:
            return np.empty(0, dtype="int64")
        lo, hi = np.searchsorted(self._codes, code, "left"), np.searchsorted(self._codes, code, "right")
        times = self._at[lo:hi]
        starts = np.searchsorted(times, [a for a, _ in windows], "left")
        ends = np.searchsorted(times, [b for _, b in windows], "left")
        return lo + np.concatenate([np.arange(a, b, dtype="int64") for a, b in zip(starts, ends)])


def _bools(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=bool)


def _objects(column: pd.Series) -> np.ndarray:
    """A column as Python values, a missing one (NaN, NA) as None. A categorical column (most of the
    event's columns: a few values each) by its codes, without a Python object per row first."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return _labels(column)[column.cat.codes.to_numpy()]
    values = column.astype(object).to_numpy()
    return np.where(pd.isna(values), None, values)


def _labels(column: pd.Series) -> np.ndarray:
    """A categorical column's categories as Python values, then None: indexed by its codes, code -1
    (missing) takes the last."""
    return np.array([*[v.item() if hasattr(v, "item") else v for v in column.cat.categories], None], dtype=object)


def _taker(column: pd.Series, convert) -> Callable[[np.ndarray], np.ndarray]:
    """How a cut takes its rows of a judged column, as `convert` gives them: a categorical column by its
    codes and a boolean one as it is, each made once for the review (a view, not a copy: a cut of each of
    20,000 cases took nine pandas Series at 10M events); any other column through pandas."""
    if convert is _objects and isinstance(column.dtype, pd.CategoricalDtype):
        labels, codes = _labels(column), column.cat.codes.to_numpy()
        return lambda at: labels[codes[at]]
    if convert is _bools and column.dtype == bool:
        values = column.to_numpy()
        return lambda at: values[at]
    return lambda at: convert(column.take(at))


# the judged columns an entry reads (ENTRY_FIELDS but seq and at_us), each as Python values
_READ = {"action": _objects, "record_type": _objects, "purpose": _objects,
         "patient_id": lambda c: _objects(c.astype("Int64")), "break_glass": _bools, "has_reason": _bools,
         "explained": _bools, "explained_by": _objects, "event_ref": _objects}
