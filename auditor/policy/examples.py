"""Frames built from plain tables, as a rule file's regression examples write them (and tests do).

Identity values (name_dob, last_name, household, street, phone) are tokens standing for blind
indexes: equal tokens are equal indexes. Times without an offset are local to the example's
`timezone` (UTC by default); an example's period is its events' first and last local days unless
it gives `period: [first, last]`. An event's `source` is "ehr" unless it says "vault" (the vault's own
gateway events, a privacy officer's reads among them); `cases` lists the patients named in the
office's cases and since when ({patient_id, since}).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd

from auditor.policy import engine
from auditor.policy.detectors import REGISTRY
from auditor.policy.findings import build_findings
from auditor.policy.frames import Frames, Period
from auditor.policy.rules import Policy
from auditor.policy.typed_frames import (IDENTITIES, typed_appointments, typed_authored, typed_care_team,
                                         typed_case_patients, typed_encounters, typed_events, typed_orders, typed_patients,
                                         typed_workforce)


_EPOCH = pd.Timestamp(0, tz="UTC")


def token(name: str, value) -> int | None:
    """The stand-in blind index of an identity token."""
    if value is None:
        return None
    digest = hashlib.blake2b(f"{name}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _utc(values: pd.Series, tz: ZoneInfo) -> pd.Series:
    out = []
    for v in values:  # a handful of example rows, written by hand
        ts = pd.Timestamp(v) if v is not None and v == v else pd.NaT
        out.append(ts if ts is pd.NaT or ts.tzinfo else ts.tz_localize(tz))
    return pd.to_datetime(pd.Series(out, index=values.index, dtype=object), utc=True)


def _table(rows: list[dict] | None, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows or [], columns=columns)
    return frame.astype(object).where(frame.notna(), None)


def _identities(frame: pd.DataFrame) -> pd.DataFrame:
    for name in IDENTITIES:
        frame[name] = pd.array([token(name, v) for v in frame[name]], dtype="Int64")
    return frame


def frames_from_tables(*, workforce=(), patients=(), encounters=(), care_team=(), events=(), cases=(),
                       orders=(), appointments=(), documents=(), timezone: str = "UTC",
                       period: tuple[date, date] | None = None) -> Frames:
    tz = ZoneInfo(timezone)
    wf = _identities(_table(list(workforce), ["user_id", "role", "department", "hire_date", "termination_date",
                                             "shift_start", "shift_end", "own_patient_id", *IDENTITIES]))
    wf.insert(0, "workforce_id", range(1, len(wf) + 1))
    ids = dict(zip(wf["user_id"], wf["workforce_id"]))
    pt = _identities(_table(list(patients), ["patient_id", "vip", "restricted", "deceased_on", *IDENTITIES]))
    enc = _table(list(encounters), ["patient_id", "department", "attending", "start", "end"])
    enc["attending_id"] = enc["attending"].map(ids)
    enc["start"], enc["end"] = _utc(enc["start"], tz), _utc(enc["end"], tz)
    team = _table(list(care_team), ["patient_id", "user_id", "start", "end"])
    team["workforce_id"] = team["user_id"].map(ids)
    team["start"], team["end"] = _utc(team["start"], tz), _utc(team["end"], tz)
    ev = _table(list(events), ["id", "at", "user_id", "patient_id", "action", "outcome", "record_type",
                               "break_glass", "reason", "role", "purpose", "source"])
    at = _utc(ev["at"], tz)
    ev = pd.DataFrame({
        "seq": range(1, len(ev) + 1), "at_us": (at - _EPOCH) // pd.Timedelta(microseconds=1),
        "source": ev["source"].fillna("ehr"), "source_event_id": ev["id"].astype(str), "user_id": ev["user_id"], "role": ev["role"],
        "action": ev["action"].fillna("view"), "patient_id": ev["patient_id"], "record_type": ev["record_type"],
        "outcome": ev["outcome"].fillna("success"), "purpose": ev["purpose"],
        "break_glass": ev["break_glass"].fillna(False), "has_reason": ev["reason"].notna(),
    })
    if period is None:
        days = at.dt.tz_convert(tz).dt.date
        period = (days.min(), days.max()) if len(days) else (date(2026, 1, 1), date(2026, 1, 1))
    held = _table(list(cases), ["patient_id", "since"])
    held["since"] = _utc(held["since"], tz)
    placed = _table(list(orders), ["patient_id", "user_id", "performing_department", "type", "placed_at",
                                   "completed_at"])
    placed["ordering_id"] = placed["user_id"].map(ids)
    placed["placed_at"], placed["completed_at"] = _utc(placed["placed_at"], tz), _utc(placed["completed_at"], tz)
    booked = _table(list(appointments), ["patient_id", "user_id", "department", "status", "booked_at", "scheduled_for"])
    booked["provider_id"] = booked["user_id"].map(ids)
    booked["status"] = booked["status"].fillna("booked")
    booked["booked_at"], booked["scheduled_for"] = _utc(booked["booked_at"], tz), _utc(booked["scheduled_for"], tz)
    signed = _table(list(documents), ["patient_id", "user_id", "record_type", "signed_at"])
    signed["author_id"] = signed["user_id"].map(ids)
    signed["signed_at"] = _utc(signed["signed_at"], tz)
    return Frames(typed_events(ev), typed_workforce(wf), typed_patients(pt), typed_encounters(enc),
                  typed_care_team(team), Period(*_days(period), tz), case_patients=typed_case_patients(held),
                  orders=typed_orders(placed), appointments=typed_appointments(booked), authored=typed_authored(signed))


def _days(period) -> tuple[date, date]:
    first, last = period
    as_date = lambda d: d if isinstance(d, date) else date.fromisoformat(str(d))  # noqa: E731
    return as_date(first), as_date(last)


def example_frames(example: dict) -> Frames:
    return frames_from_tables(workforce=example.get("workforce") or (), patients=example.get("patients") or (),
                              encounters=example.get("encounters") or (), care_team=example.get("care_team") or (),
                              events=example.get("events") or (), cases=example.get("cases") or (),
                              timezone=example.get("timezone", "UTC"),
                              period=example.get("period"))


def matches(policy: Policy, rule_id: str, frames: Frames) -> list[list[str]]:
    """The event ids of each finding of `rule_id` on `frames`, sorted (for comparison)."""
    judging = deciding(policy, rule_id)
    found = build_findings(engine.run(frames, judging), judging)
    return sorted(sorted(f.event_ids) for f in found if f.rule == rule_id)


def deciding(policy: Policy, rule_id: str) -> Policy:
    """The rules that decide which events `rule_id`'s findings hold: the rule alone, unless the contract's
    precedence ranks it among others (it keeps only what the rules before it leave) or it runs after
    the others (it leaves what they flag); then every rule. A finding groups one rule's hits, so the
    rule alone finds what the whole pack finds of it, at a fraction of the pack's fixed cost."""
    rule = policy.rules.get(rule_id)
    if rule is None or rule_id in policy.settings.precedence or REGISTRY[rule.detector].after_others:
        return policy
    return Policy({rule_id: rule}, policy.settings)


def run_example(policy: Policy, rule_id: str, example: dict) -> list[list[str]]:
    """The matches of `rule_id` on `example` (its `parameters`, if any, replacing the rule's)."""
    rule = policy.rules[rule_id]
    if example.get("parameters"):
        rule = replace(rule, parameters={**rule.parameters, **example["parameters"]})
        policy = Policy({**policy.rules, rule_id: rule}, policy.settings)
    return matches(policy, rule_id, example_frames(example))
