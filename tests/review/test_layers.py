"""Data flows one way: the CLI and the benchmarks call the application layer (auditor/review/), which
gathers through the gateway and the engine; reporting/ only lays out what it is given. Checked on
the imports of each module (an import under `if TYPE_CHECKING:` is for annotations only)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "auditor"
# what reads the vault, starts processes or verifies: the application layer's, never a layout's
NOT_IN_REPORTING = ("sqlalchemy", "multiprocessing", "auditor.home", "auditor.database", "auditor.vault.gateway",
                    "auditor.review", "auditor.policy.frames.load_frames", "auditor.policy.engine.run",
                    "auditor.vault.integrity.verify_vault", "concurrent.futures.ProcessPoolExecutor")
# the building blocks of a workflow: a desk, the engine, the case store, the report's gathering
NOT_IN_CALLERS = ("auditor.vault.gateway.casework", "auditor.vault.gateway.release", "auditor.vault.gateway.retention",
                  "auditor.vault.gateway.directory", "auditor.policy.engine", "auditor.policy.frames.load_frames",
                  "auditor.policy.findings.build_findings", "auditor.cases.attach", "auditor.policy.suppressions.mute",
                  "auditor.reporting.monthly", "auditor.ingest.ehr_import.ingest_directory",
                  "auditor.vault.settings.organisation_timezone", "auditor.vault.settings.set_organisation_timezone",
                  "auditor.retention.purge.run_purge", "auditor.retention.certificate.issue_certificate")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, names imported from a module included, except
    those under `if TYPE_CHECKING:`."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def offenders(files: list[Path], banned: tuple[str, ...], root: Path) -> list[str]:
    return [f"{path.relative_to(root)}:{line} {name}" for path in files for line, name in _imports(path)
            if any(name == b or name.startswith(b + ".") for b in banned)]


def test_reporting_only_lays_out():
    assert offenders(sorted((PACKAGE / "reporting").glob("*.py")), NOT_IN_REPORTING, ROOT) == []


def test_the_cli_and_the_report_benchmark_assemble_no_workflow():
    files = sorted((PACKAGE / "cli").glob("*.py")) + [ROOT / "bench" / "report.py", ROOT / "bench" / "policy.py"]
    found = offenders(files, NOT_IN_CALLERS, ROOT)
    # bench/policy.py times the engine itself against DuckDB: that is its measurement, not a workflow
    assert [f for f in found if not f.startswith("bench/policy.py")] == []
    assert {f.split(" ")[1] for f in found} <= {"auditor.policy.engine", "auditor.policy.frames.load_frames"}


def test_the_checks_would_catch_an_offender(tmp_path):
    shutil.copytree(PACKAGE / "reporting", tmp_path / "reporting", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PACKAGE / "cli", tmp_path / "cli", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "reporting" / "sneaky.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from auditor.home import Vault\n"
        "def names(vault):\n    from sqlalchemy import select\n    return select\n")
    (tmp_path / "cli" / "shortcut.py").write_text("from auditor.vault.gateway.release import ReleaseDesk\n")
    assert offenders(sorted((tmp_path / "reporting").glob("*.py")), NOT_IN_REPORTING, tmp_path) == [
        "reporting/sneaky.py:5 sqlalchemy", "reporting/sneaky.py:5 sqlalchemy.select"]
    assert offenders(sorted((tmp_path / "cli").glob("*.py")), NOT_IN_CALLERS, tmp_path) == [
        "cli/shortcut.py:1 auditor.vault.gateway.release", "cli/shortcut.py:1 auditor.vault.gateway.release.ReleaseDesk"]
