"""The privacy office's own records through the gateway: suppressions and cases.

Their free text (a suppression's reason, a case note, a finding's sentence) may name a patient, so it
is sealed here, under a data key of the suppression or case itself (kept apart from every patient's
key: crypto-shredding a patient must not erase the sanctions record, 45 CFR 164.530(j)). Every change
and every read of sealed text is done as the service account svc:cases in one unit of work with its
audit events (AccessGateway.unit_of_work). The officer who acted is named in the event's detail.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select

from auditor.vault.gateway.service_work import ServiceChange, ServiceDesk
from auditor.vault.records import CASEWORK_SEALED, CaseFinding, CaseHistoryEntry, Suppression

SERVICE = "cases"
CASEWORK_MODELS = {"suppressions": Suppression, "case_findings": CaseFinding, "case_history": CaseHistoryEntry}
_CHUNK = 900


class CaseworkChange(ServiceChange):
    """One audited transaction of casework."""

    SEALED = CASEWORK_SEALED
    KIND = "casework"


class Casework(ServiceDesk[CaseworkChange]):
    """Audited casework transactions and sealed-text reads, as svc:cases for operations (HOPERAT)."""

    CHANGE = CaseworkChange
    SERVICE = SERVICE

    def read(self, table: str, column: str, row_ids: Iterable[int], record_type: str, record_id: int | str,
             patient_ids: Iterable[int] = ()) -> dict[int, str | None]:
        """Open sealed casework text of these rows (row id -> text; None when the key was destroyed).
        One "view" event for the record read, and one per patient the text concerns."""
        if column not in CASEWORK_SEALED.get(table, ()):
            raise ValueError(f"{table}.{column} is not a casework column")
        model = CASEWORK_MODELS[table]
        wanted = sorted(set(row_ids))

        def work(change: CaseworkChange) -> dict[int, str | None]:
            rows = []
            for i in range(0, len(wanted), _CHUNK):
                rows += change.session.execute(select(model.id, getattr(model, column))
                                               .where(model.id.in_(wanted[i : i + _CHUNK]))).all()
            opened = {row_id: change.open(value, table, column, row_id) for row_id, value in rows}
            change.record(record_type, record_id, f"{len(rows)} sealed {column} value(s) read")
            for pid in sorted(set(patient_ids)):
                change.record(record_type, record_id, f"{column} concerning this patient read", patient_id=pid)
            return opened

        return self.change("view", work)
