"""A simulated month: the hospital, its normal work, the injected violations, and the labels.

Deterministic by seed: one numpy Generator drives every draw, in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from auditor.simulation import misuse, traffic, violations
from auditor.simulation.hospital import Hospital, build_hospital
from auditor.simulation.local_time import local_days
from auditor.simulation.treatment import add_treatment_data
from auditor.simulation.truth import relationship_rules

INJECTED_SHARE = 0.004  # room kept for the injected events in the month's total


@dataclass
class SimulatedMonth:
    hospital: Hospital
    events: pd.DataFrame  # EVENT_COLUMNS + event_id, sorted by time
    care_team: pd.DataFrame  # patient, member, role, start, end
    labels: pd.DataFrame  # event_id, rule, injected, scenario, day (local)


def _without(events: pd.DataFrame, days: pd.DataFrame, zone: ZoneInfo, denied: bool, spread: int = 0) -> pd.DataFrame:
    """Drop the normal events (accesses, or denials) of the given (user, local day) pairs, +- spread days."""
    if days.empty:
        return events
    wanted = events["outcome"].eq("denied") if denied else events["outcome"].eq("success")
    day = local_days(events["at"].to_numpy(), zone)
    keys = pd.MultiIndex.from_arrays([events["user"].to_numpy(), day])
    drop = np.zeros(len(events), dtype=bool)
    for shift in range(-spread, spread + 1):
        moved = pd.MultiIndex.from_arrays([days["user"].to_numpy(),
                                           days["day"].to_numpy() + np.timedelta64(shift, "D")])
        drop |= keys.isin(moved)
    return events[~(drop & wanted.to_numpy())]


def _in_month(hospital: Hospital, events: pd.DataFrame) -> pd.DataFrame:
    day = local_days(events["at"].to_numpy(), hospital.zone)
    return events[(day >= hospital.month_start) & (day < hospital.month_end)]


def _on_their_own_team(events: pd.DataFrame, teams: pd.DataFrame) -> pd.DataFrame:
    """Normal work meant to be unexplained (a therapist covering for a colleague) that the final care
    team explains after all, because the user is a member at that time through other work (a colleague
    covering for them, their own encounter): the truth is what the written context says."""
    open_ = (events["scenario"] == "") & ~events["explained"].astype(bool) & (events["patient"] >= 0)
    rows = events.loc[open_, ["patient", "user", "at"]].reset_index()
    met = rows.merge(teams, left_on=["patient", "user"], right_on=["patient", "member"])
    covered = met.loc[(met["start"] <= met["at"]) & (met["at"] <= met["end"]), "index"].unique()
    if len(covered):
        events = events.copy()
        events.loc[covered, ["explained", "clinical"]] = True
    return events


def _labels(hospital: Hospital, events: pd.DataFrame) -> pd.DataFrame:
    """One row per (event, rule): the rule a construction gave it, and the relationship rule truth gives."""
    truth = relationship_rules(hospital, events)
    injected = events["scenario"] != ""
    day = np.datetime_as_string(local_days(events["at"].to_numpy(), hospital.zone))  # to score part of a month
    rows = [pd.DataFrame({"event_id": events["event_id"], "rule": events["rule"], "injected": injected,
                          "scenario": events["scenario"], "day": day}),
            pd.DataFrame({"event_id": events["event_id"], "rule": truth, "injected": injected,
                          "scenario": events["scenario"].where(injected, "residue"), "day": day})]
    labels = pd.concat(rows, ignore_index=True)
    labels = labels[labels["rule"] != ""].drop_duplicates(["event_id", "rule"])
    return labels.sort_values(["event_id", "rule"]).reset_index(drop=True)


def simulate_month(seed: int, *, events: int, patients: int, workforce: int, month: str = "2026-11",
                   zone: ZoneInfo = ZoneInfo("America/New_York"), seeded: pd.DataFrame | None = None) -> SimulatedMonth:
    rng = np.random.default_rng(seed)
    start = np.datetime64(f"{month}-01", "D")
    hospital = build_hospital(rng, patients=patients, workforce=workforce, month_start=start, zone=zone,
                              seeded=seeded)
    add_treatment_data(np.random.default_rng([seed, 2]), hospital)  # version 2: a stream of its own
    normal, team = traffic.normal_traffic(rng, hospital, int(events * (1 - INJECTED_SHARE)))
    normal = normal.assign(rule="")
    who, members = violations.Violators(rng, hospital), len(hospital.workforce)
    snooping = violations.as_events(violations.relationship_violations(rng, hospital, who, members))
    odd, odd_team, cleared_days, cleared_denials = misuse.misuse(rng, hospital, who, members)
    normal = _without(normal, cleared_days, zone, denied=False)
    normal = _without(normal, cleared_denials, zone, denied=True, spread=1)
    curious = misuse.curiosity(rng, hospital, who, members, normal)  # last: it avoids the month's normal work
    every = _in_month(hospital, pd.concat([normal, snooping, odd, curious], ignore_index=True))
    every = every.sort_values("at", kind="stable").reset_index(drop=True)
    every["event_id"] = "EV" + pd.Series(np.arange(1, len(every) + 1)).astype(str).str.zfill(9)
    teams = pd.concat([hospital.care_team, team, odd_team], ignore_index=True)
    # one membership per (patient, member, start): the widest end, so no access loses its cover
    teams = teams.groupby(["patient", "member", "role", "start"], as_index=False)["end"].max()
    every = _on_their_own_team(every, teams)
    return SimulatedMonth(hospital, every, teams, _labels(hospital, every))
