"""There is no way to PHI but the gateway: sealed columns hold only ciphertext, and no module outside
auditor/vault/gateway/ names a sealed column."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import select

from auditor.crypto import _aead
from auditor.vault.records import DOCUMENT_SEALED, PATIENT_SEALED, WORKFORCE_SEALED, ClinicalDocument, Patient, WorkforceMember

PACKAGE = Path(__file__).resolve().parents[2] / "auditor"
ALLOWED = {PACKAGE / "vault" / "gateway", PACKAGE / "vault" / "records.py", PACKAGE / "migrations"}
SEALED = {("Patient", c) for c in PATIENT_SEALED} | {("WorkforceMember", c) for c in WORKFORCE_SEALED} | {
    ("ClinicalDocument", c) for c in DOCUMENT_SEALED}
TABLES = {"Patient": "patients", "WorkforceMember": "workforce", "ClinicalDocument": "documents"}


def test_every_sealed_value_is_ciphertext(population):
    with population.records.connect() as conn:
        for model, columns in ((Patient, PATIENT_SEALED), (WorkforceMember, WORKFORCE_SEALED),
                               (ClinicalDocument, DOCUMENT_SEALED)):
            for row in conn.execute(select(*(getattr(model, c) for c in columns))):
                for value in row:
                    if value is not None:
                        value = bytes(value)
                        assert value[0] == _aead.VERSION and len(value) >= _aead.OVERHEAD
                        _aead.header_key_id(value)
                        assert b"M\xc3\xbcller" not in value and b"Main Street" not in value


def _outside_gateway(path: Path) -> bool:
    return not any(path == allowed or allowed in path.parents for allowed in ALLOWED)


def test_no_module_outside_the_gateway_reads_sealed_columns():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if not _outside_gateway(path):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in SEALED:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.value.id}.{node.attr}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                lowered = node.value.lower()
                if any(f"from {t}" in lowered or f"join {t}" in lowered or f"update {t}" in lowered
                       for t in TABLES.values()):
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} raw SQL on a PHI table")
    assert offenders == []


def test_the_checker_would_catch_an_offender(tmp_path):
    """The static check is not vacuous: a module reading Patient.last_name is flagged."""
    tree = ast.parse("from auditor.vault.records import Patient\nq = select(Patient.last_name)\n")
    hits = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and (n.value.id, n.attr) in SEALED]
    assert len(hits) == 1
