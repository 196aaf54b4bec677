"""Retention through the gateway, as the service account svc:retention for records management
(RECORDMGT): legal holds (their reasons sealed under the hold's own data key), birth dates for the
minors rule of a schedule, and the deletion of a crypto-shredded patient's rows.

Every change and every read of sealed values is one unit of work with its audit events
(AccessGateway.unit_of_work). A destroyed patient is named afterwards by internal id only: the audit
log, case findings and suppressions keep that id, nothing else.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

from sqlalchemy import delete, select, update

from auditor.errors import DecryptionError, NotFound
from auditor.vault.gateway.service_work import ServiceChange, ServiceDesk
from auditor.vault.records import (RETENTION_SEALED, Appointment, AuthoredDocument, CareTeamMember, ClinicalDocument,
                                   Encounter, LegalHold, Order, Patient, PurgeItem, WorkforceMember)

SERVICE = "retention"
PURPOSE = "RECORDMGT"  # HL7 v3 PurposeOfUse: records management
_CHUNK = 900


class RetentionChange(ServiceChange):
    """One audited transaction of retention work."""

    SEALED = RETENTION_SEALED
    KIND = "retention"


class RecordsManagement(ServiceDesk[RetentionChange]):
    """Audited retention transactions, as svc:retention for records management."""

    CHANGE = RetentionChange
    SERVICE = SERVICE
    PURPOSE = PURPOSE

    def hold_texts(self, hold_ids: Iterable[int]) -> dict[int, tuple[str | None, str | None]]:
        """The sealed reasons of these holds (placing, releasing); one "view" event per hold."""
        wanted = sorted(set(hold_ids))

        def work(change: RetentionChange) -> dict[int, tuple[str | None, str | None]]:
            out = {}
            for i in range(0, len(wanted), _CHUNK):
                for row in change.session.execute(select(LegalHold.id, LegalHold.reason, LegalHold.release_reason)
                                                  .where(LegalHold.id.in_(wanted[i : i + _CHUNK]))):
                    out[row.id] = (change.open(row.reason, "retention_holds", "reason", row.id),
                                   change.open(row.release_reason, "retention_holds", "release_reason", row.id))
                    change.record("legal_hold", row.id, "legal hold reasons read")
            return out

        return self.change("view", work)

    def birth_dates(self, patient_ids: Iterable[int]) -> dict[int, date | None]:
        """Birth dates for a schedule's minors rule: only that field is opened, one event per patient."""
        wanted = sorted(set(patient_ids))

        def work(change: RetentionChange) -> dict[int, date | None]:
            envelope, out, opened = self.gateway.envelope, {}, []
            for i in range(0, len(wanted), _CHUNK):
                rows = change.session.execute(select(Patient.id, Patient.data_key_id, Patient.birth_date)
                                              .where(Patient.id.in_(wanted[i : i + _CHUNK]))).all()
                envelope.preload(r.data_key_id for r in rows)
                for row in rows:
                    try:
                        out[row.id] = _day(envelope.open(row.birth_date, "patients", "birth_date", row.id))
                    except DecryptionError:  # shredded by a purge not yet finished: nothing to read
                        out[row.id] = None
                        continue
                    opened.append(row.id)
            change.record_each("demographics", "birth date read for the retention schedule's minors rule",
                               patient_ids=opened, fields=("birth_date",))
            return out

        return self.change("view", work) if wanted else {}

    def delete_shredded_records(self, item_id: int, purge_id: int) -> PurgeItem:
        """Delete a crypto-shredded patient's rows (their ciphertext and blind indexes, documents,
        encounters, care team, orders, appointments and signatures) and mark the purge item destroyed, in
        one audited transaction. The patient's data key must already be destroyed."""

        def work(change: RetentionChange) -> PurgeItem:
            s = change.session
            item = s.get(PurgeItem, item_id)
            if item is None or item.purge_id != purge_id:
                raise NotFound(f"purge {purge_id} has no item {item_id}")
            if not self.gateway.envelope.is_destroyed(item.data_key_id):
                raise NotFound(f"the data key of patient {item.patient_id} is not destroyed yet")
            pid = item.patient_id
            rows = {name: list(s.scalars(select(model.id).where(model.patient_id == pid)))
                    for name, model in _CHART_TABLES.items()}
            counts = {name: len(ids) for name, ids in rows.items()}
            for name, ids in rows.items():  # recorded in the log as they were, before they go
                change.record_rows(name, "delete", ids)
            change.record_rows("patients", "delete", [pid])
            for model in _CHART_TABLES.values():
                s.execute(delete(model).where(model.patient_id == pid))
            linked = list(s.scalars(select(WorkforceMember.id).where(WorkforceMember.patient_id == pid)))
            s.execute(update(WorkforceMember).where(WorkforceMember.patient_id == pid).values(patient_id=None))
            change.record_rows("workforce", "update", linked)
            s.execute(delete(Patient).where(Patient.id == pid))
            item.state, item.destroyed_at = "destroyed", change.at
            item.documents, item.encounters, item.care_team = (counts["documents"], counts["encounters"],
                                                                counts["care_team"])
            change.record("chart", item_id, f"purge {purge_id}: ciphertext and blind indexes deleted after "
                          f"crypto-shredding; {counts['documents']} document(s), {counts['encounters']} "
                          f"encounter(s), {counts['care_team']} care-team row(s), {counts['orders']} order(s), "
                          f"{counts['appointments']} appointment(s), {counts['authored_documents']} signature(s)",
                          action="delete", patient_id=pid)
            return item

        return self.change("delete", work)


# a purged patient's rows, each table by its ledger name (the care activity of contract version 2 included)
_CHART_TABLES = {"documents": ClinicalDocument, "encounters": Encounter, "care_team": CareTeamMember, "orders": Order,
                 "appointments": Appointment, "authored_documents": AuthoredDocument}


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:  # a birth date that is not a date: the minors rule cannot apply, the adult one does
        return None
