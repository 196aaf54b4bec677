"""The clock is injected everywhere time is read, so tests can fix it without patching globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class FixedClock:
    """A clock for tests: returns `at`, advancing by `step` on every read."""

    at: datetime
    step: timedelta = field(default=timedelta(0))

    def now(self) -> datetime:
        current = self.at
        self.at = self.at + self.step
        return current
