"""The records schema. Columns typed `Sealed` hold AES-GCM ciphertext only (see crypto.envelope); the
`*_bidx` columns hold keyed blind indexes (crypto.blind_index). Nothing here decrypts: only the
gateway reads these tables.

Kept in the clear, because the policy engine must compute on them without decrypting: internal ids,
roles, departments, employment dates, shifts, encounter, care-team, order, appointment and signing
times, order types and appointment statuses, record types and sensitivities, the VIP and restricted
flags, and the date of death.
"""

from auditor.vault.records.sealed import Sealed
from auditor.vault.records.clinical import (PATIENT_SEALED, WORKFORCE_SEALED, DOCUMENT_SEALED, SENSITIVITIES, ROLES,
                                            ORDER_TYPES, APPOINTMENT_STATUSES, Patient, WorkforceMember, Encounter,
                                            CareTeamMember, Order, Appointment, AuthoredDocument, ClinicalDocument)
from auditor.vault.records.ingest import (IngestRun, QuarantinedRow, VaultSetting)
from auditor.vault.records.casework import (CASEWORK_SEALED, Suppression, Case, CaseFinding, CaseHistoryEntry,
                                            CaseTimeline, MutedFinding)
from auditor.vault.records.release import (ROI_SEALED, ReleaseRequest, ReleaseRequestHistory, ReleaseAuthorization,
                                           Disclosure, AccountingSuspension)
from auditor.vault.records.retention import (RETENTION_SEALED, LegalHold, LegalHoldHistoryEntry, PurgeItem, PurgePlan,
                                              PurgePlanPatient, PurgeProposal, PurgeRun)
from auditor.vault.records.staff import STAFF_SEALED, StaffAccount, StaffSession
from auditor.vault.records.feeds import FeedAccount

__all__ = [
    "APPOINTMENT_STATUSES", "AccountingSuspension", "Appointment", "AuthoredDocument", "CASEWORK_SEALED", "CareTeamMember", "Case", "CaseFinding", "CaseHistoryEntry", "CaseTimeline",
    "ClinicalDocument", "DOCUMENT_SEALED", "Disclosure", "Encounter", "FeedAccount", "IngestRun", "LegalHold",
    "LegalHoldHistoryEntry", "MutedFinding", "ORDER_TYPES", "Order", "PATIENT_SEALED", "Patient", "PurgeItem", "PurgePlan", "PurgePlanPatient", "PurgeProposal", "PurgeRun",
    "QuarantinedRow", "RETENTION_SEALED", "ROI_SEALED", "ROLES", "ReleaseAuthorization", "ReleaseRequest",
    "ReleaseRequestHistory", "SENSITIVITIES", "STAFF_SEALED", "Sealed", "StaffAccount", "StaffSession", "Suppression",
    "VaultSetting", "WORKFORCE_SEALED", "WorkforceMember",
]
