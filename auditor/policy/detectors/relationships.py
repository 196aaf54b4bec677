"""Rules about who opens whose chart: self, family, coworker, neighbor, VIP, deceased, sensitive
record types, and any other unexplained access (no-treatment-relationship).

45 CFR 164.502(b) and 164.514(d): minimum necessary, workforce access limited to what the role needs;
45 CFR 164.308(a)(1)(ii)(D) and 164.312(b): review of system activity. Break-glass accesses go to
break-glass-review instead of these (interchange contract); self-access flags every opening of one's
own chart, explained or not, since the contract's table does not limit it to unexplained ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.policy.context import DetectionContext
from auditor.policy.detectors import detector, hits, no_hits

NO_LINK = "; no encounter, care-team or department link explains it"
RECORD_LABELS = {"hiv": "HIV", "psychotherapy_note": "psychotherapy note", "substance_use": "substance use"}
NO_CLINICAL_LINK = "; no care-team, attending or department link explains it"


def unexplained(ctx: DetectionContext, only: str | None = None) -> pd.DataFrame:
    """The accesses nothing explains and no break-glass covers (`only`: of them, those whose column of
    that name is true, or set for a date); the flags are read before any row is copied, since the
    accesses are wide and most rules flag none."""
    a = ctx.accesses
    wanted = ~a["explained"] & ~a["break_glass"]
    if only is not None:
        wanted &= a[only].notna() if a[only].dtype.kind == "M" else a[only]
    return a[wanted] if wanted.any() else a.iloc[:0]


def _per_patient(rows: pd.DataFrame, whom, tail: str = NO_LINK) -> pd.DataFrame:
    if rows.empty:
        return no_hits()
    evidence = "{opened} the chart of " + pd.Series(whom, index=rows.index).astype("string") + "{times}{when}" + tail
    return hits(rows, rows["patient_id"].astype("string"), evidence)


@detector("self_access")
def self_access(ctx: DetectionContext, params) -> pd.DataFrame:
    rows = ctx.accesses[ctx.accesses["is_self"]]
    if rows.empty:
        return no_hits()
    return hits(rows, rows["patient_id"].astype("string"), "{opened} their own chart{times}{when}")


@detector("family_access")
def family_access(ctx: DetectionContext, params) -> pd.DataFrame:
    rows = unexplained(ctx, "is_family")
    if rows.empty:
        return no_hits()
    home, phone = rows["shares_home"].to_numpy(), rows["shares_phone"].to_numpy()
    whom = np.select([home & phone, home], ["a patient with the same surname, home address and phone number",
                                            "a patient with the same surname and home address"],
                     default="a patient with the same surname and phone number")
    return _per_patient(rows, whom)


@detector("coworker_access")
def coworker_access(ctx: DetectionContext, params) -> pd.DataFrame:
    return _per_patient(unexplained(ctx, "is_coworker"), "a coworker from their own department")


@detector("neighbor_access")
def neighbor_access(ctx: DetectionContext, params) -> pd.DataFrame:
    return _per_patient(unexplained(ctx, "is_neighbor"), "a patient who lives on their street, in another household")


@detector("vip_access")
def vip_access(ctx: DetectionContext, params) -> pd.DataFrame:
    return _per_patient(unexplained(ctx, "vip"), "a VIP patient")


@detector("deceased_patient_access", {"days_after_death": "int", "exempt_roles": "strings"})
def deceased_patient_access(ctx: DetectionContext, params) -> pd.DataFrame:
    rows = unexplained(ctx, "deceased_on")
    if rows.empty:
        return no_hits()
    days = (rows["local_day"] - rows["deceased_on"]).dt.days
    rows = rows[(days > params["days_after_death"]).fillna(False).astype(bool)
                & ~rows["role"].isin(params["exempt_roles"])]
    if rows.empty:
        return no_hits()
    died = rows["deceased_on"].dt.strftime("%Y-%m-%d")
    return _per_patient(rows, "a patient who died on " + died)


@detector("sensitive_record_access")
def sensitive_record_access(ctx: DetectionContext, params) -> pd.DataFrame:
    a = ctx.accesses
    sensitive = ctx.settings.explanations.sensitive_record_types
    rows = a[a["record_type"].isin(sensitive) & ~a["clinically_explained"] & ~a["break_glass"]]
    if rows.empty:
        return no_hits()
    kind = rows["record_type"].astype("string").map(lambda t: RECORD_LABELS.get(t, t.replace("_", " ")))
    evidence = "{opened} a sensitive record (" + kind + ") of a patient{times}{when}" + NO_CLINICAL_LINK
    return hits(rows, rows["patient_id"].astype("string") + "|" + kind, evidence)


@detector("no_treatment_relationship")
def no_treatment_relationship(ctx: DetectionContext, params) -> pd.DataFrame:
    return _per_patient(unexplained(ctx), "a patient")
