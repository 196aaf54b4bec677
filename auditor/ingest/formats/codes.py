"""The contract's action from the codes an audit message carries: DICOM PS3.16 audit event ids and
types (CID 400, 401), FHIR RESTful interactions (BALP's subtypes) and the DICOM/FHIR action codes
C, R, U, D, E. FHIR AuditEvent and IHE ATNA (DICOM PS3.15 A.5) messages are read by the same table."""

from __future__ import annotations

from auditor.ingest.formats import Unmappable

BTG = "BTG"  # HL7 v3 ActReason / PurposeOfUse: break the glass
RESTFUL = {"read": "view", "vread": "view", "history-instance": "view", "history-type": "view",
           "history-system": "view", "search": "search", "search-type": "search", "search-system": "search",
           "create": "create", "update": "update", "patch": "update", "delete": "delete"}
ACTION_CODES = {"C": "create", "R": "view", "U": "update", "D": "delete"}
DCM_TYPES = {"110112": "search", "110106": "export", "110107": "create", "110104": "export",
             "110105": "delete"}  # Query, Export, Import, DICOM Instances Transferred, DICOM Study Deleted
# DICOM Instances Accessed: PS3.15 A.5.3.5 has its action code say what was done (C created, R read, U
# updated, D deleted); without one (or E), the instances were at least accessed
DCM_BY_ACTION = {"110103": "view"}
PATIENT_RECORD_TYPES = {"110110", "110109", "110111", "rest"}  # Patient, Order, Procedure Record; RESTful: by action
NOT_ACCESSES = {"110100": "application activity", "110101": "use of an audit log", "110114": "a sign-in or sign-out",
                "110113": "a security alert", "110120": "an application start", "110121": "an application stop",
                "110122": "a sign-in", "110123": "a sign-out"}
USER_AUTHENTICATION, LOGIN, LOGOUT = "110114", "110122", "110123"
SECURITY_ALERT, EMERGENCY_OVERRIDE_STARTED = "110113", "110127"


def action_of_codes(types: set[str], subtypes: set[str], verb: str | None, failed: bool) -> tuple[str, bool]:
    """(the contract's action, break-the-glass) of a message with these event type codes (FHIR R4 type,
    R5 category, DICOM EventID), subtype codes (FHIR subtype / R5 code, DICOM EventTypeCode) and action
    code; Unmappable when it records no access the contract knows."""
    codes = types | subtypes
    glass = SECURITY_ALERT in types and EMERGENCY_OVERRIDE_STARTED in subtypes
    if {"disclose", "Disclosure"} & codes:
        return "disclose", glass
    if "print" in codes:  # no FHIR or DICOM code prints: a vendor's (or this auditor's export) subtype
        return "print", glass
    for code in sorted(subtypes):
        if code in RESTFUL:
            return RESTFUL[code], glass
    if USER_AUTHENTICATION in types or {LOGIN, LOGOUT} & subtypes:
        if failed:
            return "login_failed", False
        raise Unmappable("a sign-in or sign-out is not an access the contract records")
    for code in sorted(types):
        if code in DCM_TYPES:
            return DCM_TYPES[code], glass
        if code in DCM_BY_ACTION:
            return ACTION_CODES.get(verb, DCM_BY_ACTION[code]), glass
    if verb in ACTION_CODES and (types & PATIENT_RECORD_TYPES or glass or not (types & set(NOT_ACCESSES))):
        return ACTION_CODES[verb], glass
    if glass:
        return "view", True
    known = sorted(codes & set(NOT_ACCESSES))
    if known:
        raise Unmappable(f"{NOT_ACCESSES[known[0]]} (DCM {known[0]}) is not an access the contract records")
    raise Unmappable("no action the contract records (action and type name none)")
