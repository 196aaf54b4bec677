"""What every detector reads: the period's events enriched once with local time, the user's
workforce record, the patient's flags, identity links and explanations.

Rules about accesses look at successful events only; denied events (failed logins included) count
toward repeated-denials and nothing else (interchange contract, "The rules"). The auditor's own
service work (svc:import, svc:report, ...) is not workforce and is not audited by these rules; an EHR
row is always its own user's, whatever its user id looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from auditor.policy.explanation_windows import ExplanationWindows
from auditor.policy.explanations import (ExplanationPolicy, TreatmentData, explain, explained_share,
                                         shares_by_explanation)
from auditor.policy.frames import Frames, Period, columns_for, service_work
from auditor.policy.identity import identity_links, staff_patients

ACCESS_ACTIONS = frozenset({"view", "create", "update", "delete", "print", "export", "search", "disclose"})
_USER_COLUMNS = ["user_id", "workforce_id", "role", "department", "department_label", "hire_date",
                 "termination_date", "shift_start", "shift_end", "own_patient_id"]


@dataclass(frozen=True)
class EngineSettings:
    """policies/engine.yaml: the explanation windows, what counts as an access, and the precedence
    among the rules that claim an unexplained access."""

    explanations: ExplanationPolicy = field(default_factory=ExplanationPolicy)
    access_actions: frozenset[str] = ACCESS_ACTIONS
    precedence: tuple[str, ...] = ("self-access", "family-access", "coworker-access", "neighbor-access",
                                   "vip-access", "deceased-patient-access", "sensitive-record-access",
                                   "no-treatment-relationship")
    # the rules whose finding may rank as an expected gap (auditor.policy.findings: README, "The risk score")
    expected_gaps: tuple[str, ...] = ("no-treatment-relationship", "sensitive-record-access", "vip-access")


@dataclass
class DetectionContext:
    events: pd.DataFrame  # every loaded event, with local time columns; index = event number
    activity: pd.DataFrame  # successful events of workforce accounts in the period, with the user's record
    accesses: pd.DataFrame  # the successful patient accesses among them, with patient, identity, explanations
    denials: pd.DataFrame  # denied events of workforce accounts, the lookback included
    frames: Frames
    settings: EngineSettings
    # the events the other running rules flag: set by the engine for the detectors that run after them
    # (unusual-access looks only at what no other rule flags)
    flagged: pd.Index = field(default_factory=lambda: pd.Index([], dtype="int64"))
    # what each peer-comparing rule made of the active users, by its parameters (peer_groups.parameters_key):
    # what a partition tells the partition that holds the rest of their role (auditor.cluster.peer_group_split)
    peers_seen: dict = field(default_factory=dict)
    # the explanations' windows (made once for a month judged in partitions): what lateness asks again
    windows: ExplanationWindows | None = None
    # (events of the largest partition judged at once, the bound a role is split by): set by the engines
    # that judge in partitions (auditor.cluster); None for a period judged whole
    largest_part: tuple[int, int] | None = None

    @property
    def period(self) -> Period:
        return self.frames.period

    @property
    def judged(self) -> int:
        """How many patient accesses the rules judged (a cluster's context holds only some of them)."""
        return len(self.accesses)

    @property
    def explained_share(self) -> float | None:
        return explained_share(self.accesses)

    @property
    def explained_by_share(self) -> dict[str, float]:
        return shares_by_explanation(self.accesses)


def _local(events: pd.DataFrame, period: Period) -> pd.DataFrame:
    local = events["at"].dt.tz_convert(period.tz)
    wall = local.dt.tz_localize(None)
    return events.assign(
        local_day=wall.dt.normalize(),
        # to the microsecond: 60 minutes and half a second past a shift is more than 60 minutes outside it
        minute_of_day=(wall - wall.dt.normalize()) / pd.Timedelta(minutes=1),
        in_period=(events["at"] >= period.start) & (events["at"] < period.end),
    )


def _with_user(events: pd.DataFrame, workforce: pd.DataFrame) -> pd.DataFrame:
    found = columns_for(events["user_id"], workforce, "user_id", [c for c in _USER_COLUMNS if c != "user_id"])
    merged = pd.concat([events, found], axis=1).rename_axis("event")
    merged["role"] = _known_role(merged["role"], merged["event_role"])
    return merged


def _known_role(role: pd.Series, carried: pd.Series) -> pd.Series:
    """The workforce file's role; an account it does not know keeps the role its events carry (on the
    categories' codes: no string per event)."""
    role, carried = role.astype("category"), carried.astype("category")
    both = role.cat.categories.union(carried.cat.categories)
    filled = role.cat.set_categories(both).fillna(carried.cat.set_categories(both))
    return filled.cat.remove_unused_categories()


def _with_patient(accesses: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    found = columns_for(accesses["patient_id"], patients, "patient_id", ["vip", "restricted", "deceased_on"])
    merged = pd.concat([accesses, found], axis=1)
    return merged.assign(vip=merged["vip"].fillna(False).astype(bool),
                         restricted=merged["restricted"].fillna(False).astype(bool))


def at_work(events: pd.DataFrame, period: Period) -> pd.Series:
    """The events the rules read as a person's work in the period: an account's (not the vault's own
    service work), successful, and within the period."""
    return (events["user_id"].notna() & ~service_work(events) & (events["outcome"] == "success")
            & (events["at"] >= period.start) & (events["at"] < period.end))


def touch_a_patient(events: pd.DataFrame, settings: EngineSettings) -> pd.Series:
    """Among a person's work, the patient accesses: an event naming a patient, with an access action."""
    return events["patient_id"].notna() & events["action"].isin(settings.access_actions)


def build_context(frames: Frames, settings: EngineSettings) -> DetectionContext:
    events = _local(frames.events, frames.period)
    people = events["user_id"].notna() & ~service_work(events)
    success = events["outcome"] == "success"
    activity = _with_user(events[at_work(events, frames.period)], frames.workforce)
    touches = touch_a_patient(activity, settings)
    accesses = _with_patient(activity[touches], frames.patients)
    links = identity_links(accesses, frames.workforce, frames.patients, staff_patients(frames.workforce, frames.patients))
    more = TreatmentData(frames.orders, frames.appointments, frames.authored, frames.workforce)
    windows = frames.explanation_windows or ExplanationWindows(frames.encounters, frames.care_team,
                                                               frames.case_patients, more)
    why = explain(accesses, frames.encounters, frames.care_team, settings.explanations, frames.case_patients, more,
                  windows)
    accesses = pd.concat([accesses, links, why], axis=1)
    denials = _with_user(events[people & ~success], frames.workforce)
    return DetectionContext(events, activity, accesses, denials, frames, settings, windows=windows)
