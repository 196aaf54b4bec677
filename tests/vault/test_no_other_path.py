"""There is no way to PHI but the gateway: sealed columns hold only ciphertext, and no module outside
auditor/vault/gateway/ names a sealed column."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from sqlalchemy import select

from auditor.crypto import _aead
from auditor.vault.records import DOCUMENT_SEALED, PATIENT_SEALED, WORKFORCE_SEALED, ClinicalDocument, Patient, WorkforceMember

PACKAGE = Path(__file__).resolve().parents[2] / "auditor"
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


def sealed_column_readers(package: Path) -> list[str]:
    """Where a module of `package` outside the gateway names a sealed column or runs raw SQL on a PHI
    table ("path:line what")."""
    allowed = {package / "vault" / "gateway", package / "vault" / "records.py", package / "migrations"}
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if any(path == a or a in path.parents for a in allowed):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in SEALED:
                offenders.append(f"{path.relative_to(package.parent)}:{node.lineno} {node.value.id}.{node.attr}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                lowered = node.value.lower()
                if any(f"from {t}" in lowered or f"join {t}" in lowered or f"update {t}" in lowered
                       for t in TABLES.values()):
                    offenders.append(f"{path.relative_to(package.parent)}:{node.lineno} raw SQL on a PHI table")
    return offenders


def test_no_module_outside_the_gateway_reads_sealed_columns():
    assert sealed_column_readers(PACKAGE) == []


def test_the_checker_would_catch_an_offender(tmp_path):
    """The check is not vacuous: in a copy of the package, a report module reading Patient.last_name
    and one running raw SQL on the patients table are named, and the gateway's own reads are not."""
    package = tmp_path / "auditor"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "reporting" / "leaky.py").write_text(
        "from sqlalchemy import select, text\n\nfrom auditor.vault.records import Patient\n\n"
        "NAMES = select(Patient.id, Patient.last_name)\n"
        "RAW = text(\"SELECT birth_date FROM patients WHERE id = :id\")\n")
    assert sealed_column_readers(package) == ["auditor/reporting/leaky.py:5 Patient.last_name",
                                              "auditor/reporting/leaky.py:6 raw SQL on a PHI table"]
