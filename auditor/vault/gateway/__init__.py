"""The access gateway: the only door to PHI. See core.AccessGateway."""

from auditor.vault.gateway.care_activity import AppointmentRecord, AuthoredRecord, OrderRecord
from auditor.vault.gateway.context import AccessContext, Actor
from auditor.vault.gateway.core import AccessGateway, PatientSummary
from auditor.vault.gateway.ehr_log import EHR_EVENT_COLUMNS, EhrAppend
from auditor.vault.gateway.quarantine import QuarantineEntry
from auditor.vault.gateway.sealing import Chart, Document, DocumentRecord, PatientDemographics, WorkforceRecord
from auditor.vault.gateway.writes import CareTeamRecord, EncounterRecord, Registration

__all__ = ["AccessContext", "AccessGateway", "Actor", "AppointmentRecord", "AuthoredRecord", "CareTeamRecord", "Chart",
           "Document", "DocumentRecord", "EHR_EVENT_COLUMNS", "EhrAppend", "EncounterRecord", "OrderRecord",
           "PatientDemographics", "PatientSummary", "QuarantineEntry", "Registration", "WorkforceRecord"]
