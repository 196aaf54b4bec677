"""Deadline arithmetic in calendar days (45 CFR 164.524(b)(2): 30 days, one 30-day extension with a
written notice inside the first 30; 164.528(c)(1): 60 days, one 30-day extension; shorter state
deadlines from policies/roi/deadlines.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from auditor.errors import InputError
from auditor.roi.policy import Deadline


def first_due(received_on: date, deadline: Deadline) -> date:
    return received_on + timedelta(days=deadline.days)


def extended_due(received_on: date, due_on: date, already_extended: bool, notice_on: date,
                 deadline: Deadline) -> date:
    """The new due date of a one-time extension, or InputError saying why there can be none."""
    if deadline.extension_days <= 0:
        raise InputError(f"no extension is allowed for this request ({deadline.citation})")
    if already_extended:
        raise InputError(f"the request was already extended once; only one extension is allowed ({deadline.citation})")
    if notice_on < received_on:
        raise InputError("the written notice cannot predate the request")
    if notice_on > first_due(received_on, deadline):
        raise InputError("the written notice of an extension must be given within the first "
                         f"{deadline.days} days ({deadline.citation})")
    return due_on + timedelta(days=deadline.extension_days)


@dataclass(frozen=True)
class Standing:
    """Where a request stands against its deadline on a day."""

    days_left: int

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    def label(self, within: int) -> str:
        if self.overdue:
            return "overdue"
        return "due" if self.days_left <= within else "open"


def standing(due_on: date, as_of: date) -> Standing:
    return Standing((due_on - as_of).days)
