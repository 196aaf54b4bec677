"""Reading interchange values, a whole column at a time (../shared/spec/interchange.md, "Files").

Each parser takes a column of trimmed strings ("" = unknown) and returns the typed values and a mask
of the cells that are given but unreadable. None of them ever puts a value into a message.

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
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_DATE = r"\d{4}-\d{2}-\d{2}"
_OFFSET = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)"
_TIMESTAMP = rf"({_DATE})(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d{{1,9}})?)?({_OFFSET})?)?"
_TIMESTAMP_SHAPE = re.compile(_TIMESTAMP)
_HHMM = r"([01]?\d|2[0-3]):[0-5]\d"
EARLIEST, LATEST = 1900, 2199  # timestamps outside these years are typing errors, not accesses
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


def booleans(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """true/false, 1/0, yes/no in any case; "" is unknown (<NA>)."""
    flags = text.str.casefold().map(_BOOLEANS)
    bad = flags.isna() & (text != "")
    return flags.astype("boolean"), bad


def dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """YYYY-MM-DD (a real calendar date) -> datetime64 at midnight; "" is unknown (NaT)."""
    given = text != ""
    shaped = text.str.fullmatch(_DATE)
    parsed = pd.to_datetime(text.where(shaped & given), format="%Y-%m-%d", errors="coerce")
    return parsed, given & parsed.isna()


def hhmm(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """HH:MM local wall clock (H:MM accepted), zero-padded; "" is unknown."""
    good = text.str.fullmatch(_HHMM)
    return text.where(good, "").str.zfill(5).where(good, None), (text != "") & ~good


def choices(text: pd.Series, allowed: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """One of `allowed`, compared case-folded; "" is unknown."""
    folded = text.str.casefold()
    return folded.where(folded != "", None), (folded != "") & ~folded.isin(allowed)


def timestamps(text: pd.Series, zone: ZoneInfo) -> tuple[np.ndarray, pd.Series]:
    """ISO 8601 timestamps -> integer microseconds since the epoch, UTC (0 where unreadable or "").

    With an offset (or Z) the instant is exact; without one it is local time in `zone` (see the
    module docstring for the daylight-saving rule). A bare date is local midnight."""
    match = _TIMESTAMP_SHAPE.fullmatch  # 0: not a timestamp, 1: local time, 2: with an offset
    shape = np.array([(m := match(v)) and (2 if m.group(2) else 1) or 0 for v in text.tolist()], dtype=np.int8)
    shaped = pd.Series(shape > 0, index=text.index)
    offset = pd.Series(shape == 2, index=text.index)
    micros = pd.Series(np.zeros(len(text), dtype=np.int64), index=text.index)
    readable = pd.Series(False, index=text.index)
    if offset.any():
        aware = pd.to_datetime(text[offset], format="ISO8601", utc=True, errors="coerce")
        _store(micros, readable, aware.dt.tz_localize(None))
    local = shaped & ~offset
    if local.any():
        naive = pd.to_datetime(text[local], format="ISO8601", errors="coerce")
        placed = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        _store(micros, readable, placed.dt.tz_localize(None))
        shifted = naive[placed.isna() & naive.notna()]  # in a fold or a gap: rare, one at a time
        if len(shifted):
            _store(micros, readable, pd.Series([_fold0_utc(t, zone) for t in shifted], index=shifted.index,
                                               dtype="datetime64[us]"))
    years = (micros // 86_400_000_000 / 365.2425 + 1970)
    readable &= (years >= EARLIEST) & (years < LATEST + 1)
    return micros.where(readable, 0).to_numpy(dtype=np.int64), (text != "") & ~readable


def _store(micros: pd.Series, readable: pd.Series, utc_naive: pd.Series) -> None:
    ok = utc_naive.notna()
    values = utc_naive[ok].to_numpy(dtype="datetime64[us]")
    micros.loc[ok[ok].index] = (values - _EPOCH).astype(np.int64)
    readable.loc[ok[ok].index] = True


def _fold0_utc(local: pd.Timestamp, zone: ZoneInfo) -> np.datetime64:
    at = local.to_pydatetime().replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    return np.datetime64(at.replace(tzinfo=None), "us")


def local_to_utc(value: str, zone: ZoneInfo) -> datetime | None:
    """One timestamp, the slow obvious way: the reference the vectorised parser is tested against."""
    if not pd.Series([value]).str.fullmatch(_TIMESTAMP).iloc[0]:
        return None
    try:
        at = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone, fold=0)
    at = at.astimezone(timezone.utc)
    return at if EARLIEST <= at.year <= LATEST else None
