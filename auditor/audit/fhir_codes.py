"""The code systems and identifiers this auditor's FHIR AuditEvents use, written by the exporter
(auditor.audit.fhir_export) and read by the FHIR reader (auditor.ingest.formats): a module without
imports, so the reader's worker processes start without the database layer."""

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
OWN = "urn:auditor:action"  # this auditor's codes, where FHIR and DICOM have none
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
EVENT_ID = "urn:auditor:fhir:source-event-id"  # extension: an event id that is not a FHIR id (ingest reads it)
BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
APPLICATION = "110150"  # DCM: an agent that is an application, not a person
SNOMED = "http://snomed.info/sct"
ROI_REQUEST = "urn:auditor:roi-request"  # a release-of-information request's id in this vault
REQUESTER = "urn:auditor:requester-type"  # its requester's kind, as the ROI policy names them
LEDGER = "urn:auditor:disclosure"  # a disclosures ledger entry's id in this vault
MRN = "urn:auditor:mrn"  # a patient's MRN as this vault holds it: read back whole (not as an HL7 v2 CX)
