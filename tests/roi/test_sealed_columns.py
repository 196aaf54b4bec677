"""Only the gateway's release desk seals or opens the release-of-information text (names, addresses,
permissions, notes): auditor/roi and its CLI never touch those columns."""

from __future__ import annotations

import ast
from pathlib import Path

from auditor.vault.records import ROI_SEALED

PACKAGE = Path(__file__).resolve().parents[2] / "auditor"
SEALED = {column for columns in ROI_SEALED.values() for column in columns}


def _offenders(source: str, name: str) -> list[str]:
    return [f"{name}:{node.lineno} .{node.attr}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in SEALED]


def test_roi_code_outside_the_gateway_names_no_sealed_column():
    files = [*(PACKAGE / "roi").glob("*.py"), PACKAGE / "cli" / "roi_commands.py"]
    assert len(files) > 5
    assert [o for f in files for o in _offenders(f.read_text(), f.name)] == []


def test_the_check_would_catch_an_offender():
    assert _offenders("x = request.requester\n", "bad.py") == ["bad.py:1 .requester"]
