"""Reading interchange values, a whole column at a time (../shared/spec/interchange.md, "Files").

Each parser takes a column of trimmed strings ("" = unknown) as an Arrow array (a pandas Series is
taken too) and returns the typed values as an Arrow array and, as a numpy array, the mask of the cells
that are given but unreadable. None of them ever puts a value into a message. Case is folded as
str.casefold folds it and upper-cased as str.upper does: by Arrow's ASCII kernels, and one value at a
time for the rare value that is not ASCII.

Local times (a timestamp without an offset is local time in the organisation's time zone) follow
RFC 5545, section 3.3.5, which is also Python's fold=0 (PEP 495):
  * an ambiguous time (the repeated hour when clocks fall back) is the FIRST occurrence, e.g.
    2026-11-01 01:30 in America/New_York is 01:30 EDT = 05:30 UTC;
  * a nonexistent time (the hour skipped when clocks spring forward) is read with the UTC offset in
    force BEFORE the gap, e.g. 2026-03-08 02:30 in America/New_York is 02:30 EST = 07:30 UTC (03:30
    EDT on the wall). Such a row is kept, not rejected: a device clock not yet switched writes exactly
    these times, and an access must never be lost for the calendar's sake.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_BOOLEANS = ("true", "1", "yes", "false", "0", "no")  # the first three are true
_DATE = r"\d{4}-\d{2}-\d{2}"
_OFFSET = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)"
_CLOCK = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
_TIMESTAMP = rf"({_DATE})(?:{_CLOCK}({_OFFSET})?)?"
_LOCAL_SHAPE = rf"^{_DATE}(?:{_CLOCK})?$"  # RE2 (Arrow): \d is an ASCII digit, as ISO 8601 wants
_OFFSET_SHAPE = rf"^{_DATE}{_CLOCK}{_OFFSET}$"
_HHMM = r"^([01]?\d|2[0-3]):[0-5]\d$"
EARLIEST, LATEST = 1900, 2199  # timestamps outside these years are typing errors, not accesses
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")
_STRING = pa.string()


def arrow_text(text) -> pa.Array:
    if isinstance(text, pa.ChunkedArray):
        return text.combine_chunks()
    return text if isinstance(text, pa.Array) else pa.array(list(text), _STRING)


def _mask(values) -> np.ndarray:
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False)


def _ascii_or(text: pa.Array, kernel, one: Callable[[str], str]) -> pa.Array:
    """`kernel` (an Arrow ASCII kernel) on every value, `one` (the str method) on those not ASCII."""
    out = kernel(text)
    other = pc.invert(pc.string_is_ascii(text))
    if pc.any(other).as_py():
        at = np.flatnonzero(_mask(other))
        out = pc.replace_with_mask(out, other, pa.array([one(text[i].as_py()) for i in at.tolist()], _STRING))
    return out


def casefolded(text) -> pa.Array:
    return _ascii_or(arrow_text(text), pc.ascii_lower, str.casefold)


def uppercased(text) -> pa.Array:
    return _ascii_or(arrow_text(text), pc.ascii_upper, str.upper)


def _given(text: pa.Array) -> np.ndarray:
    return _mask(pc.not_equal(text, ""))


def unknown_is_null(text: pa.Array) -> pa.Array:
    """"" (unknown) as null."""
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)


def booleans(text) -> tuple[pa.Array, np.ndarray]:
    """true/false, 1/0, yes/no in any case; "" is unknown (null)."""
    text = arrow_text(text)
    found = pc.index_in(casefolded(text), value_set=pa.array(_BOOLEANS))
    return pc.less(found, 3), _given(text) & ~_mask(pc.is_valid(found))


def dates(text) -> tuple[pa.Array, np.ndarray]:
    """YYYY-MM-DD (a real calendar date) -> timestamp at midnight; "" is unknown (null)."""
    text = arrow_text(text)
    given = _given(text)
    shaped = given & _mask(pc.match_substring_regex(text, rf"^{_DATE}$"))
    strings = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(strings.where(shaped), format="%Y-%m-%d", errors="coerce")
    return pa.array(parsed.astype("datetime64[s]"), pa.timestamp("s"), from_pandas=True), given & parsed.isna().to_numpy()


def hhmm(text) -> tuple[pa.Array, np.ndarray]:
    """HH:MM local wall clock (H:MM accepted), zero-padded; "" is unknown."""
    text = arrow_text(text)
    good = pc.fill_null(pc.match_substring_regex(text, _HHMM), False)
    padded = pc.utf8_lpad(text, 5, "0")
    return pc.if_else(good, padded, pa.scalar(None, _STRING)), _given(text) & ~_mask(good)


def choices(text, allowed: tuple[str, ...]) -> tuple[pa.Array, np.ndarray]:
    """One of `allowed`, compared case-folded; "" is unknown."""
    folded = casefolded(text)
    return unknown_is_null(folded), _given(folded) & ~_mask(pc.is_in(folded, value_set=pa.array(allowed, _STRING)))


def timestamps(text, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """ISO 8601 timestamps -> integer microseconds since the epoch, UTC (0 where unreadable or "").

    With an offset (or Z) the instant is exact; without one it is local time in `zone` (see the
    module docstring for the daylight-saving rule). A bare date is local midnight."""
    text = arrow_text(text)
    n = len(text)
    local = _mask(pc.match_substring_regex(text, _LOCAL_SHAPE))
    offset = ~local & _mask(pc.match_substring_regex(text, _OFFSET_SHAPE))
    micros = np.zeros(n, dtype=np.int64)
    readable = np.zeros(n, dtype=bool)
    if offset.any():
        at = np.flatnonzero(offset)
        aware = pd.to_datetime(pd.Series(text.take(at).to_numpy(zero_copy_only=False), dtype=object),
                               format="ISO8601", utc=True, errors="coerce")
        _store(micros, readable, at, aware.dt.tz_localize(None))
    if local.any():
        at = np.flatnonzero(local)
        naive = pd.to_datetime(pd.Series(text.take(at).to_numpy(zero_copy_only=False), dtype=object),
                               format="ISO8601", errors="coerce")
        placed = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        _store(micros, readable, at, placed.dt.tz_localize(None))
        shifted = (placed.isna() & naive.notna()).to_numpy()  # in a fold or a gap: rare, one at a time
        if shifted.any():
            _store(micros, readable, at[shifted], pd.Series([_fold0_utc(t, zone) for t in naive[shifted]],
                                                            dtype="datetime64[us]"))
    years = micros // 86_400_000_000 / 365.2425 + 1970
    readable &= (years >= EARLIEST) & (years < LATEST + 1)
    return np.where(readable, micros, 0), _given(text) & ~readable


def _store(micros: np.ndarray, readable: np.ndarray, at: np.ndarray, utc_naive: pd.Series) -> None:
    ok = utc_naive.notna().to_numpy()
    values = utc_naive[ok].to_numpy(dtype="datetime64[us]")
    micros[at[ok]] = (values - _EPOCH).astype(np.int64)
    readable[at[ok]] = True


def _fold0_utc(local: pd.Timestamp, zone: ZoneInfo) -> np.datetime64:
    at = local.to_pydatetime().replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    return np.datetime64(at.replace(tzinfo=None), "us")


def local_to_utc(value: str, zone: ZoneInfo) -> datetime | None:
    """One timestamp, the slow obvious way: the reference the vectorised parser is tested against."""
    if not re.fullmatch(_TIMESTAMP, value, flags=re.ASCII):
        return None
    try:
        at = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone, fold=0)
    at = at.astimezone(timezone.utc)
    return at if EARLIEST <= at.year <= LATEST else None
