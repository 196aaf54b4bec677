"""Treatment relationships, as the interchange contract's "Explained accesses" defines them:
care team at t; attending of an encounter within [start - 7 days, end + 30 days]; same department as
such an encounter; an operational role within [start - 30 days, end + 90 days]."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from auditor.vault.access_policy import Windows
from auditor.vault.gateway.context import Actor, normalize_department
from auditor.vault.records import CareTeamMember, Encounter

OPERATIONAL_ROLES = {"billing", "coding", "him", "registration"}


def relationships(session: Session, actor: Actor, patient_ids: list[int], at: datetime,
                  windows: Windows) -> dict[int, set[str]]:
    """For each patient, the relationships `actor` holds at `at`."""
    found: dict[int, set[str]] = defaultdict(set)
    if actor.workforce_id is None or not patient_ids:
        return found
    for i in range(0, len(patient_ids), 900):
        chunk = patient_ids[i : i + 900]
        for (pid,) in session.execute(
            select(CareTeamMember.patient_id).where(
                CareTeamMember.workforce_id == actor.workforce_id, CareTeamMember.patient_id.in_(chunk),
                CareTeamMember.start <= at, or_(CareTeamMember.end.is_(None), CareTeamMember.end >= at),
            )
        ):
            found[pid].add("care_team")
        widest_before = max(windows.clinical_days_before, windows.operational_days_before)
        widest_after = max(windows.clinical_days_after, windows.operational_days_after)
        encounters = session.execute(
            select(Encounter.patient_id, Encounter.attending_id, Encounter.department, Encounter.start, Encounter.end)
            .where(Encounter.patient_id.in_(chunk), Encounter.start <= at + timedelta(days=widest_before),
                   Encounter.end >= at - timedelta(days=widest_after))
        )
        department = normalize_department(actor.department)
        clinical_before, clinical_after = timedelta(days=windows.clinical_days_before), timedelta(days=windows.clinical_days_after)
        ops_before, ops_after = timedelta(days=windows.operational_days_before), timedelta(days=windows.operational_days_after)
        for e in encounters:
            if e.start - clinical_before <= at <= e.end + clinical_after:
                if e.attending_id == actor.workforce_id:
                    found[e.patient_id].add("attending")
                if department is not None and normalize_department(e.department) == department:
                    found[e.patient_id].add("department")
            if actor.role in OPERATIONAL_ROLES and e.start - ops_before <= at <= e.end + ops_after:
                found[e.patient_id].add("operational")
    return found
