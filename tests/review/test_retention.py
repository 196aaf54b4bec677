"""Retention as use cases: a plan shown with MRNs and recorded, a purge proposed (described for the
person who confirms it) and carried out with its certificate, holds listed with their reasons."""

from __future__ import annotations

import pytest

from auditor.reporting.templates import load_site
from auditor.retention.holds import HoldRequest
from auditor.retention.purge import PurgeRefused, Signatories
from auditor.review import retention
from tests.retention.hospital import AS_OF, build

PEOPLE = Signatories("Dr. A. Approver", "R. Coordinator", "W. Witness")


@pytest.fixture
def hospital(sqlite_vault):
    build(sqlite_vault)
    return sqlite_vault


def test_plan_propose_purge_certify(hospital):
    vault = hospital
    hold = retention.place_hold(vault, HoldRequest("litigation", "General Counsel", "R. Coordinator", mrn="IMG"))
    planned = retention.plan_retention(vault, AS_OF)
    shown = {p.mrn: p for p in planned.shown}
    assert shown["IMG"].status == "held" and shown["IMG"].holds == ((hold, "General Counsel", shown["IMG"].holds[0][2]),)
    eligible = sorted(p.mrn for p in planned.shown if p.status == "eligible")
    assert eligible and planned.recorded is not None and len(planned.recorded.patients) == len(eligible)
    assert shown[eligible[0]].to_dict()["mrn"] == eligible[0]
    proposal = retention.propose_purge(vault, plan_id=planned.recorded.id)
    assert proposal.description == (f"plan {planned.recorded.id}: destroy the records of {len(eligible)} patient(s) "
                                    f"eligible on {AS_OF} under default (patients sha256 {planned.recorded.digest})")
    done = retention.carry_out_purge(vault, proposal, PEOPLE, load_site(None), pdf=False)
    assert done.outcome.destroyed == done.certificate.destroyed == len(eligible)
    assert done.certificate.paths["html"].parent == vault.home / "certificates"
    html, digest = retention.certificate(vault, done.outcome.purge_id)
    assert done.certificate.paths["html"].read_text(encoding="utf-8") == html and digest == done.certificate.sha256
    with pytest.raises(PurgeRefused, match="was carried out by purge"):
        retention.propose_purge(vault, plan_id=planned.recorded.id)
    (listed,) = retention.list_holds(vault)
    assert (listed.id, listed.in_force, listed.reason) == (hold, True, "litigation")
    retention.release_hold(vault, hold, "case settled", "R. Coordinator")
    assert retention.list_holds(vault)[0].to_dict()["release_reason"] == "case settled"
