"""Findings: what a privacy officer reads. One Finding model feeds every output (JSON, CSV, later
the report); a finding groups one user's hits of one rule on one unit (a patient, a day, a burst).

Names and MRNs are resolved only here, for the output, through a Directory (the vault's reads them
through the audited gateway); the detectors never decrypt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from auditor.policy.engine import Detection
from auditor.policy.peer_groups import at_peers_rate, standing, unexplained_deviation
from auditor.policy.rules import Policy

SEVERITY_RISK = {"low": 20, "medium": 45, "high": 70, "critical": 90}
EXPECTED_RISK, EXPECTED_MOST = 5, 19  # an expected gap's score: 5 + its aggravations, under every low finding's 20
ROLE_LABELS = {"him": "HIM staff member", "it": "IT staff member", "admin": "Administrator",
               "registration": "Registration clerk", "billing": "Billing clerk", "coding": "Coder",
               "research": "Researcher"}


class Directory(Protocol):
    """Display names and MRNs for the output, and nothing else."""

    def people(self, user_ids: list[str]) -> dict[str, str]:
        """user id -> display name such as 'J. Doe'."""

    def mrns(self, patient_ids: list[int]) -> dict[int, str]:
        """internal patient id -> MRN."""


class NoDirectory:
    """No names, no MRNs (user ids stand in for names)."""

    def people(self, user_ids: list[str]) -> dict[str, str]:
        return {}

    def mrns(self, patient_ids: list[int]) -> dict[int, str]:
        return {}


@dataclass
class Finding:
    rule: str
    severity: str
    user_id: str
    patient_id: int | None
    mrn: str | None
    event_ids: list[str]
    risk: int
    explanation: str
    muted: bool = False  # a suppression matched it (auditor.policy.suppressions): kept, marked
    title: str = ""
    first_at: str = ""
    last_at: str = ""
    citations: list[str] = field(default_factory=list)
    # this run's ranking of its members, repeat offenders first (1 = first): set by build_findings
    rank: int | None = None
    # the id of the case the finding is recorded in: set only by auditor.cases.attach (None until it
    # is attached, and for a muted finding in no case)
    case: int | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("patient_id")  # an internal id: the MRN names the patient outside the vault
        out.pop("rank")  # the order of the output says it; `case` is what the office looks up
        return out


@dataclass(frozen=True)
class RiskFactors:
    """What a finding's risk is made of, besides its severity (README, "Triage: the risk score")."""

    events: int = 1  # the finding's events
    patients: int = 1  # distinct patients among them
    days: int = 1  # distinct local days they fall on
    sensitive: bool = False  # one of them opened a sensitive record (psychotherapy note, SUD, HIV, genetic)
    vip: bool = False  # one of them opened the chart of a patient the vault marks VIP
    other_findings: int = 0  # the member's other findings in the period, expected gaps aside (a repeat offender)
    peer_deviation: int = 0  # 0-5: the member's unexplained accesses against their peers' rate (peer_groups)
    # an expected gap: a finding of a rule in policies/engine.yaml's expected_gaps, nothing of it explained, whose
    # patients were all in the organisation's care at the time, by a member of the workforce file in a
    # clinical role (rule 4's roles never open a sensitive record) at their peers' rate of such gaps
    # (peer_groups.at_peers_rate)
    expected: bool = False


def risk_score(severity: str, factors: RiskFactors = RiskFactors()) -> int:
    """0-100: the severity's base (low 20, medium 45, high 70, critical 90), plus up to 10 for
    repetition (events beyond the first), 5 for a sensitive record and 5 for a VIP (neither counted on
    the rule whose severity already stands for it: sensitive-record-access, vip-access), up to 5 for
    patients beyond the first, up to 5 for days beyond the first, up to 5 for the member's other
    findings (expected gaps aside), and up to 5 for peer deviation
    (auditor.policy.peer_groups.unexplained_deviation). A critical finding's case is ranked above every
    other whatever the scores (auditor.review.triage);
    within the rest the score orders them, so a high finding with every aggravation (70 + 35) passes a
    critical one's base but never outranks its case.

    An expected gap (RiskFactors.expected) scores 5 plus the same aggravations, at most 19: below every
    finding with a ground of its own; its rule's severity is set aside, so a VIP's or a sensitive
    record's gap counts its 5 and ranks first among the gaps. A consult or a phone question about a patient of another
    department leaves an access unexplained at about the same rate in every peer group; what a review
    budget is for is the access to someone the hospital was not treating, or a member far above peers."""
    added = (min(10, factors.events - 1) + 5 * factors.sensitive + 5 * factors.vip
             + min(5, factors.patients - 1) + min(5, factors.days - 1) + min(5, factors.other_findings)
             + min(5, factors.peer_deviation))
    if factors.expected:
        return min(EXPECTED_MOST, EXPECTED_RISK + added)
    return min(100, SEVERITY_RISK[severity] + added)


def _grouped(detection: Detection) -> pd.DataFrame:
    ev = detection.context.events
    hits = detection.hits.join(ev[["event_ref", "user_id", "patient_id", "at", "local_day", "action", "record_type"]],
                               on="event")
    hits = hits.sort_values(["at", "event"], kind="stable")
    hits["viewed"] = hits["action"] == "view"
    hits["sensitive"] = hits["record_type"].isin(detection.context.settings.explanations.sensitive_record_types)
    accesses = detection.context.accesses
    vip = accesses["vip"]
    hits["vip"] = hits["event"].map(vip[vip]).notna()  # the accesses whose patient is a VIP
    explained, care = accesses["explained"].astype(bool), accesses["under_care"].astype(bool)
    hits["explained"] = hits["event"].map(explained[explained]).notna()
    hits["under_care"] = hits["event"].map(care[care]).notna()
    # rule 4's roles leave no clinical gaps; nor does an account the workforce file does not know (its role
    # would be only what its export says of it)
    operations = (accesses["role"].isin(detection.context.settings.explanations.operational_roles)
                  | accesses["workforce_id"].isna())
    hits["operational"] = hits["event"].map(operations[operations]).notna()
    keys = ["rule", "user_id", "unit"]
    groups = hits.groupby(keys, sort=False).agg(
        patients=("patient_id", "nunique"),
        patient_id=("patient_id", "first"), first_at=("at", "min"), last_at=("at", "max"),
        first_day=("local_day", "min"), last_day=("local_day", "max"), evidence=("evidence", "first"),
        severity=("severity", "first"), all_viewed=("viewed", "all"), count=("event", "nunique"),
        days=("local_day", "nunique"), sensitive=("sensitive", "any"), vip=("vip", "any"),
        any_explained=("explained", "any"), under_care=("under_care", "all"), operational=("operational", "any"),
    ).reset_index()
    groups.insert(len(keys), "event_ids", _event_ids(hits, keys))
    peers = detection.standing or (standing(accesses) if len(accesses) else None)  # worked out once for both
    deviation = unexplained_deviation(accesses, peers)
    groups["peer_deviation"] = groups["user_id"].map(deviation).fillna(0).astype("int64")
    at_rate = at_peers_rate(accesses, peers)
    ordinary = groups["user_id"].isin(at_rate.index[at_rate.to_numpy(dtype=bool)]).to_numpy(dtype=bool)
    groups["expected"] = (groups["rule"].isin(detection.context.settings.expected_gaps) & ~groups["any_explained"]
                          & groups["under_care"] & ~groups["operational"] & ordinary)
    grounded = (~groups["expected"]).astype("int64")  # an expected gap makes nobody a repeat offender
    groups["other_findings"] = groups.assign(g=grounded).groupby("user_id")["g"].transform("sum") - grounded
    # an aggravation the rule's severity already stands for is not counted twice (an expected gap's
    # score sets the severity aside, so there it counts)
    groups["sensitive"] &= (groups["rule"] != "sensitive-record-access") | groups["expected"]
    groups["vip"] &= (groups["rule"] != "vip-access") | groups["expected"]
    return groups


def _event_ids(hits: pd.DataFrame, keys: list[str]) -> list[list[str]]:
    """Each group's event references in time order, each once, the groups in the order groupby(keys,
    sort=False) gives them (of first appearance): one split of an array, not a Python call per group."""
    firsts = hits.drop_duplicates([*keys, "event_ref"])  # a group's first appearance is kept
    code = firsts.groupby(keys, sort=False).ngroup().to_numpy()
    kept = code >= 0  # a key that is missing puts the row in no group, as in the groups themselves
    code, refs = code[kept], firsts["event_ref"].to_numpy(dtype=object)[kept]
    order = np.argsort(code, kind="stable")
    return [part.tolist() for part in np.split(refs[order], np.flatnonzero(np.diff(code[order])) + 1)] if len(code) else []


def _actors(user_ids, people: dict[str, str], workforce: pd.DataFrame) -> dict[str, str]:
    """user id -> 'Nurse J. Doe (Cardiology)'; the user id stands in for a name the directory lacks."""
    known = workforce.drop_duplicates("user_id").set_index("user_id")
    out = {}
    for user_id in user_ids:  # one per user with findings
        role = str(known.at[user_id, "role"]) if user_id in known.index else None
        label = ROLE_LABELS.get(role or "", (role or "user").capitalize())
        department = known.at[user_id, "department_label"] if user_id in known.index else None
        where = f" ({department})" if isinstance(department, str) and department else ""
        out[user_id] = f"{label} {people.get(user_id, user_id)}{where}"
    return out


def _sentence(actor: str, evidence: str, all_viewed: bool, count: int, first: str, last: str, expected: bool) -> str:
    text = (evidence.replace("{opened}", "opened" if all_viewed else "accessed")
            .replace("{times}", f" {count} times" if count > 1 else "")
            .replace("{when}", f" on {first}" if first == last else f" between {first} and {last}"))
    if expected:  # why it ranks low, said where the finding is read
        return (f"{actor} {text}. Ranked as an expected gap: the patient was in the organisation's care then, "
                f"and this member's unexplained accesses are at their peers' rate.")
    return f"{actor} {text}."


def _iso(at: pd.Series) -> list[str]:
    """Aware times as Timestamp.isoformat writes them (to the microsecond), without a Timestamp each."""
    return [moment.isoformat() for moment in pd.DatetimeIndex(at).to_pydatetime()]


def _days(day: pd.Series) -> list[str]:
    """Local days (naive midnights) as YYYY-MM-DD."""
    return np.datetime_as_string(day.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")).tolist()


_COLUMNS = ["rule", "severity", "user_id", "patients", "patient_id", "event_ids", "count", "days", "sensitive", "vip",
            "other_findings", "peer_deviation", "expected", "evidence", "all_viewed"]


def build_findings(detection: Detection, policy: Policy, directory: Directory | None = None) -> list[Finding]:
    """One Finding per (rule, user, unit), ranked by member (rank_by_member), highest first."""
    groups = _grouped(detection)
    directory = directory or NoDirectory()
    single = groups[groups["patients"] == 1]
    mrns = directory.mrns(sorted({int(p) for p in single["patient_id"].dropna()}))
    users = sorted(set(groups["user_id"].dropna()))
    actors = _actors(users, directory.people(users), detection.context.frames.workforce)
    findings = []
    # one per finding, never per event; the columns read as Python lists once (itertuples made a
    # pandas Timestamp of each of four times a finding)
    columns = [groups[name].tolist() for name in _COLUMNS]
    times = [_iso(groups["first_at"]), _iso(groups["last_at"]), _days(groups["first_day"]), _days(groups["last_day"])]
    for (rule_id, severity, user_id, patients, patient_id, event_ids, count, days, sensitive, vip, others, deviation,
         expected, evidence, all_viewed, first_at, last_at, first_day, last_day) in zip(*columns, *times):
        rule = policy.rules[rule_id]
        severity = severity if isinstance(severity, str) else rule.severity
        pid = int(patient_id) if patients == 1 else None
        findings.append(Finding(
            rule=rule_id, severity=severity, user_id=user_id, patient_id=pid,
            mrn=mrns.get(pid) if pid is not None else None, event_ids=event_ids,
            risk=risk_score(severity, RiskFactors(count, max(1, patients), max(1, days), bool(sensitive), bool(vip),
                                                  others, deviation, bool(expected))),
            explanation=_sentence(actors[user_id], evidence, all_viewed, count, first_day, last_day, bool(expected)),
            title=rule.title, first_at=first_at, last_at=last_at, citations=list(rule.citations)))
    return rank_by_member(findings)


def rank_by_member(findings: list[Finding]) -> list[Finding]:
    """Rank the members with findings: repeat offenders first (more findings), then the highest
    risk. Each finding gets its member's `rank`; the list comes back in that order, each member's
    findings highest risk first. (Which case a finding is in is the case store's to say.)"""
    by_user: dict[str, list[Finding]] = {}
    for f in findings:
        by_user.setdefault(f.user_id, []).append(f)
    order = sorted(by_user, key=lambda u: (-len(by_user[u]), -max(f.risk for f in by_user[u]), u))
    ranked = []
    for rank, user in enumerate(order, start=1):
        for f in sorted(by_user[user], key=lambda f: (-f.risk, f.first_at, f.rule)):
            f.rank = rank
            ranked.append(f)
    return ranked
