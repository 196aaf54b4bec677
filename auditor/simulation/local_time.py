"""Wall-clock time in the organisation's time zone, whole arrays at a time.

The simulated hospital lives by the local wall clock (shifts, clinic hours), and November holds the
end of daylight saving: on 2026-11-01 New York's clock runs 01:00-01:59 twice. Times are kept as
naive UTC `datetime64[s]`; a wall time is converted with its first occurrence when it is ambiguous
(RFC 5545 3.3.5, as ingest reads it). When written, a timestamp in the repeated hour carries its UTC
offset, so the export says exactly which of the two 01:30s it means; every other one is plain local
time, as EHR exports usually are.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

SECOND = np.timedelta64(1, "s")


def wall_to_utc(wall: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """Naive local wall times -> naive UTC (first occurrence in a fold; a skipped time moves forward)."""
    index = pd.DatetimeIndex(np.asarray(wall, dtype="datetime64[s]"))
    first = np.ones(len(index), dtype=bool)
    placed = index.tz_localize(zone, ambiguous=first, nonexistent="shift_forward").tz_convert("UTC")
    return placed.tz_localize(None).to_numpy(dtype="datetime64[s]")


def utc_to_wall(utc: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    index = pd.DatetimeIndex(np.asarray(utc, dtype="datetime64[s]")).tz_localize("UTC").tz_convert(zone)
    return index.tz_localize(None).to_numpy(dtype="datetime64[s]")


def written(utc: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """ISO 8601 local timestamps for the CSV: plain local time, or with its offset when the wall
    time alone would be read as another instant (the second pass through a repeated hour)."""
    utc = np.asarray(utc, dtype="datetime64[s]")
    wall = utc_to_wall(utc, zone)
    text = np.datetime_as_string(wall, unit="s").astype(object)
    other = wall_to_utc(wall, zone) != utc
    if other.any():
        minutes = ((wall[other] - utc[other]) // np.timedelta64(60, "s")).astype(np.int64)
        sign = np.where(minutes < 0, "-", "+")
        hours = pd.Series(np.abs(minutes) // 60).astype(str).str.zfill(2).to_numpy()
        mins = pd.Series(np.abs(minutes) % 60).astype(str).str.zfill(2).to_numpy()
        text[other] = text[other] + sign + hours + ":" + mins
    return text


def local_days(utc: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    return utc_to_wall(utc, zone).astype("datetime64[D]")


def minute_of_day(wall: np.ndarray) -> np.ndarray:
    wall = np.asarray(wall, dtype="datetime64[s]")
    return ((wall - wall.astype("datetime64[D]")) // np.timedelta64(60, "s")).astype(np.int64)
