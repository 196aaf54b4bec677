"""The audit log page in a browser: an officer verifies the log (the outcome is then on the home
page too) and downloads an inclusion proof that checks against the vault's signing key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from auditor.audit.proofs import check_proof
from tests.browser.axe import assert_accessible


@pytest.mark.parametrize("role", ["privacy_officer"])
def test_an_officer_verifies_the_log_and_downloads_a_proof(page, office, role):
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#log-verified")).to_have_text("not verified yet")
    assert_accessible(page)
    page.get_by_role("button", name="Verify the log now").click()
    expect(page.get_by_role("status")).to_contain_text("The log verifies")
    assert_accessible(page)
    page.get_by_label("Event number").fill("5")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the proof").click()
    assert download.value.suggested_filename == "inclusion-proof-5.json"
    proof = json.loads(Path(download.value.path()).read_text())
    assert check_proof(proof, office.vault.keyring.signing_public_key).ok
    page.get_by_role("link", name="Home").click()
    expect(page.locator("#glance-verified")).to_contain_text("verified:")
