"""unusual-access: explained accesses whose pattern is far outside the user's peer group (same role
and department) in the period (interchange contract, "Version 2").

The model (its features and parameters in policies/rules/unusual-access.yaml): a chart is *curious*
when the user's explained accesses to it, that no other rule flags, show every one of the rule's
`features`:
- late: each access came more than `late_days` after the encounter that explains it (it is explained
  by an encounter window, attending, department or operational, and no longer would be if that
  window closed `late_days` after the encounter's end; an order, appointment, care team or document
  that still covers it makes it not late);
- demographics_only: each access opened the demographics record type;
- unshared: no other user of the peer group opened the patient in the period.
Each user's curious charts are counted and compared at the rate the peers have them: of the charts
(patients) each user opened in the period, the share that are curious; the peer group's median share
(over its users active in the period, those with no curious chart counting 0) times the charts the
user opened is how many the user would have at their peers' rate. The user is flagged when the
count is at least `minimum` and at least `multiple` times that expectation plus `margin`: a busy
billing clerk whose late demographics are their peers' work at their peers' rate is not, a nurse who
browses former patients among their own is. A group of fewer than `minimum_peers` active users is
compared with its role across every department instead, and "unshared" then means no other user of
the role. One finding per flagged user cites the accesses to their curious charts.

45 CFR 164.502(b) and 164.514(d): minimum necessary; 164.308(a)(1)(ii)(D): activity review.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import KINDS, detector, hits, no_hits
from auditor.policy.explanations import READS, TreatmentData, explain
from auditor.policy.frames import distinct
from auditor.policy.peer_groups import active_users, parameters_key, peer_median

FEATURES = ("late", "demographics_only", "unshared")
KINDS["peer_features"] = lambda v: (isinstance(v, list) and bool(v) and all(isinstance(f, str) for f in v)
                                    and set(v) <= set(FEATURES))
ENCOUNTER_WINDOWS = ("attending", "department", "operational")  # the explanations an encounter's window gives
PLURAL = {"him": "HIM staff", "it": "IT staff", "admin": "administrators", "registration": "registration clerks",
          "billing": "billing clerks", "coding": "coders", "research": "researchers", "other": "other staff",
          "staff": "staff"}
SINGULAR = {"him": "HIM staff member", "it": "IT staff member", "admin": "administrator",
            "registration": "registration clerk", "billing": "billing clerk", "coding": "coder", "research": "researcher",
            "other": "staff member", "staff": "staff member"}


def _late(ctx: DetectionContext, rows: np.ndarray, late_days: int) -> np.ndarray:
    """For each access at `rows` of ctx.accesses (all explained): explained by an encounter's window,
    and by nothing once the windows after an encounter close `late_days` after its end."""
    acc = ctx.accesses
    windowed = acc["explained_by"].iloc[rows].isin(ENCOUNTER_WINDOWS).to_numpy(dtype=bool)
    late = np.zeros(len(rows), dtype=bool)
    if not windowed.any():
        return late
    policy = ctx.settings.explanations
    short = replace(policy, clinical_days_after=min(policy.clinical_days_after, late_days),
                    operational_days_after=min(policy.operational_days_after, late_days))
    f = ctx.frames
    asked = acc.iloc[rows[windowed], [acc.columns.get_loc(c) for c in READS]]  # not the wide rows: millions of them
    # the month's windows: only the clinical and operational ones are made anew, with the short days
    still = explain(asked, f.encounters, f.care_team, short, f.case_patients,
                    TreatmentData(f.orders, f.appointments, f.authored, f.workforce), ctx.windows, under_care=False)
    still = still["explained"].to_numpy(dtype=bool)
    late[windowed] = ~still
    return late


def _all_per_pair(pair: np.ndarray, flag: np.ndarray, pairs: int) -> np.ndarray:
    """For each pair code 0..pairs-1: every access of the pair has `flag`."""
    return np.bincount(pair, weights=~flag, minlength=pairs) == 0


def _unshared(user: np.ndarray, patient: np.ndarray, width: int, group: np.ndarray) -> np.ndarray:
    """For each access (user, patient codes; the user's group code): no other user of the group opened
    the patient (on int64 codes: one per distinct (group, patient, user))."""
    key = group[user].astype(np.int64) * width + patient
    distinct = pd.DataFrame({"key": key, "user": user}).drop_duplicates()
    openers = distinct.groupby("key")["user"].size()
    return openers.reindex(key).to_numpy() == 1


def _curious(ctx: DetectionContext, params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the active users with their group and count of curious charts, the accesses to those charts)."""
    acc = ctx.accesses
    user, users = active_users(acc, params["minimum_peers"])
    patient, width = pd.factorize(acc["patient_id"])[0], max(acc["patient_id"].nunique(), 1)
    group = users["group"].to_numpy()
    # explained, and no other rule flags it; cheap features first, so "late" is asked of few accesses
    keep = acc["explained"].to_numpy(dtype=bool) & ~acc.index.isin(ctx.flagged)
    unshared = _unshared(user, patient, width, group) if "unshared" in params["features"] else None
    rows = np.flatnonzero(keep)
    for feature in ("unshared", "demographics_only", "late"):
        if feature not in params["features"] or not len(rows):
            continue
        pairs, pair = pd.factorize(user[rows].astype(np.int64) * width + patient[rows])  # codes by hashing: no sort
        if feature == "unshared":
            flag = unshared[rows]
        elif feature == "demographics_only":
            flag = (acc["record_type"].iloc[rows] == "demographics").fillna(False).to_numpy(dtype=bool)
        else:
            flag = _late(ctx, rows, params["late_days"])
        rows = rows[_all_per_pair(pairs, flag, len(pair))[pairs]]
    curious = acc.iloc[rows].assign(user=user[rows], patient=patient[rows])
    users["charts"] = curious.groupby("user")["patient"].nunique().reindex(users["user"], fill_value=0).to_numpy()
    users["opened"] = np.bincount(distinct(user.astype(np.int64) * width + patient) // width,
                                  minlength=len(users))  # each user's distinct patients, all accesses
    return users, curious


def _plural(role: str) -> str:
    return PLURAL.get(role, f"{role}s" if role else "users without a role")


def _evidence(u, params) -> str:
    """The sentence after the user's name: what they opened, then the peers' median and rate (no PHI)."""
    features = params["features"]
    what = "only the demographics" if "demographics_only" in features else "the charts"
    clauses = []
    if "late" in features:
        clauses.append(f"whose encounter had ended more than {params['late_days']} days earlier")
    if "unshared" in features:
        where = "" if u.fallback else f" of {u.label or 'no department'}"
        clauses.append(f"that no other {SINGULAR.get(u.role, u.role or 'user')}{where} opened")
    peers = f"{_plural(u.role)} of {u.label or 'no department'}"
    if u.fallback:  # too few peers in the department: the role across every department
        peers = (f"{_plural(u.role)} of every department (fewer than {params['minimum_peers']} in "
                 f"{u.label or 'no department'})")
    which = f" {' and '.join(clauses)}" if clauses else ""
    return (f"{{opened}} {what} of {u.charts} patients{which}{{when}}, of the {u.opened} patients they opened in "
            f"the period; {peers} open a median of {u.median:g} such chart{'' if u.median == 1 else 's'}, "
            f"{_share(u.median_share)} of the charts they open, which would be {u.expected:.1f} of {u.opened} "
            f"(threshold: at least {params['minimum']}, and {params['multiple']:g} times that plus {params['margin']:g})")


def _share(share: float) -> str:
    return f"{share:.0%}" if share == 0 or share >= 0.1 else f"{share:.1%}"


@detector("peer_deviation", {"features": "peer_features", "late_days": "int", "minimum": "int", "multiple": "number",
                             "margin": "number", "minimum_peers": "int"}, after_others=True)
def unusual_access(ctx: DetectionContext, params) -> pd.DataFrame:
    if ctx.accesses.empty:
        return hits(ctx.accesses, "peers", "")
    users, curious = _curious(ctx, params)
    users["share"] = users["charts"] / users["opened"]
    key = parameters_key(params)
    elsewhere = ctx.frames.peers_elsewhere.seen.get(key) if ctx.frames.peers_elsewhere is not None else None
    users["median"] = peer_median(users, "charts", elsewhere)
    users["median_share"] = peer_median(users, "share", elsewhere)
    ctx.peers_seen[key] = users[["user_id", "role", "fallback", "charts", "share"]]
    users["expected"] = users["median_share"] * users["opened"]
    flagged = users[(users["charts"] >= params["minimum"])
                    & (users["charts"] >= params["multiple"] * users["expected"] + params["margin"])]
    if flagged.empty:
        return no_hits()
    rows = curious[curious["user"].isin(flagged["user"])]
    evidence = pd.Series({u.user: _evidence(u, params) for u in flagged.itertuples()}, dtype="string")  # per user
    return hits(rows, "peers", rows["user"].map(evidence))
