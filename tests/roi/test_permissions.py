"""The 164.508(c) checklist, Part 2 consents, legal process and FHIR R4 Consent as a source."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.roi.permissions import defects, from_fhir_consent, from_form
from auditor.roi.policy import load_roi_policy
from auditor.roi.scope import release_scope
from tests.roi.conftest import authorization

POLICY = load_roi_policy()
ON = date(2026, 11, 2)
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fhir-r4-examples"
ITEMS = [i.id for c in (POLICY.checklists["authorization"],) for i in (*c.elements, *c.statements)]


def test_a_complete_authorization_has_no_defect():
    assert defects(from_form(authorization()), POLICY, ON) == []


@pytest.mark.parametrize("element", ITEMS)
def test_each_missing_element_is_named(element):
    form = authorization(**{element: None})
    if element == "expiration":
        form.pop("expires_on")
    found = defects(from_form(form), POLICY, ON)
    assert [d.element for d in found] == [element]
    assert "164.508(c)" in str(found[0])


def test_expired_revoked_and_representative_authority():
    assert [d.element for d in defects(from_form(authorization(expires_on="2026-01-01")), POLICY, ON)] == ["expired"]
    assert [d.element for d in defects(from_form(authorization(revoked_on="2026-10-15")), POLICY, ON)] == ["revoked"]
    rep = authorization(signed_by_representative=True)
    assert [d.element for d in defects(from_form(rep), POLICY, ON)] == ["representative_authority"]
    rep["representative_authority"] = "health care power of attorney"
    assert defects(from_form(rep), POLICY, ON) == []


def test_an_expiration_event_is_an_expiration():
    form = authorization(expires_on=None, expiration_event="end of the claim review")
    assert defects(from_form(form), POLICY, ON) == []


def test_psychotherapy_notes_need_their_own_authorization():
    combined = from_form(authorization(covers=["general", "psychotherapy_note"]))
    assert "combined" in [d.element for d in defects(combined, POLICY, ON)]
    own = from_form(authorization(kind="psychotherapy_authorization", covers=["psychotherapy_note"]))
    assert defects(own, POLICY, ON) == []
    scope = release_scope("third_party", None, [from_form(authorization()), own], POLICY, ON)
    assert "psychotherapy_note" in scope.sensitivities and "substance_use" not in scope.sensitivities


def test_substance_use_records_only_with_a_part2_consent():
    general = from_form(authorization(covers=["general", "substance_use"]))
    scope = release_scope("third_party", None, [general], POLICY, ON)
    assert "substance_use" not in scope.sensitivities and "42 CFR 2.31" in scope.withheld["substance_use"]
    consent = from_form(authorization(kind="part2_consent", covers=["substance_use"], patient_name="Zoë Müller"))
    assert defects(consent, POLICY, ON) == []
    missing = from_form(authorization(kind="part2_consent", covers=["substance_use"]))
    assert [d.element for d in defects(missing, POLICY, ON)] == ["patient_name"]
    scope = release_scope("third_party", None, [general, consent], POLICY, ON)
    assert "substance_use" in scope.sensitivities


def test_a_subpoena_needs_satisfactory_assurance():
    refused = release_scope("attorney", "subpoena", [], POLICY, ON)
    assert refused.refusal and "satisfactory assurance" in refused.refusal
    assurance = from_form({"kind": "assurance", "assurance_type": "qualified protective order", "signed_on": "2026-10-30"})
    assert release_scope("attorney", "subpoena", [assurance], POLICY, ON).refusal is None
    assert "court order" in release_scope("attorney", "court_order", [assurance], POLICY, ON).refusal
    order = from_form({"kind": "court_order", "court": "Suffolk Superior Court", "description": "2026 labs",
                       "signed_on": "2026-10-30"})
    assert release_scope("attorney", "court_order", [order], POLICY, ON).refusal is None


def test_the_patient_gets_everything_but_psychotherapy_notes():
    scope = release_scope("patient", None, [], POLICY, ON)
    assert scope.refusal is None and "psychotherapy_note" in scope.withheld
    assert {"substance_use", "hiv", "general"} <= scope.sensitivities


@pytest.mark.skipif(not EXAMPLES.exists(), reason="the FHIR R4 examples are not beside the checkout")
def test_fhir_consent_examples():
    signed = json.loads((EXAMPLES / "consent-example-signature.json").read_text())
    permission = from_fhir_consent(signed)
    assert permission.source == "fhir" and permission.expires_on == date(2016, 10, 10)
    names = [d.element for d in defects(permission, POLICY, ON)]
    assert "expired" in names and "statement_revocation" in names  # no signed form attached
    valid = copy.deepcopy(signed)
    valid["provision"]["period"]["end"] = "2099-01-01"
    valid["provision"]["purpose"] = [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "PATRQT"}]
    valid["sourceAttachment"] = {"title": "The signed authorization", "contentType": "application/pdf"}
    assert defects(from_fhir_consent(valid), POLICY, ON) == []
    part2 = copy.deepcopy(valid)
    part2["provision"]["securityLabel"] = [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                            "code": "42CFRPart2"}]
    assert from_fhir_consent(part2).kind == "part2_consent" and "substance_use" in from_fhir_consent(part2).covers
    with pytest.raises(InputError, match="not a valid FHIR R4 Consent"):
        from_fhir_consent({**valid, "status": "active", "dateTime": "not a date"})


def test_unknown_kind_and_sensitivity_are_refused():
    with pytest.raises(InputError, match="unknown permission kind"):
        from_form({"kind": "handshake"})
    with pytest.raises(InputError, match="unknown record sensitivity"):
        from_form({"covers": ["gossip"]})
