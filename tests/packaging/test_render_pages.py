"""docs/render_pages.py, which draws the README's pictures of the report: it needs pypdfium2 (the
docs extra) and says which pip install is missing instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "render_pages.py"


def test_without_pypdfium2_it_names_the_install(tmp_path):
    # -S: no site-packages, so pypdfium2 is absent as on a machine without the docs extra.
    run = subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), str(tmp_path / "report.pdf")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip() == "render_pages.py needs pypdfium2: pip install -e '.[docs]' (or pip install pypdfium2)"


def test_it_draws_the_pages_of_a_report(tmp_path):
    pytest.importorskip("pypdfium2")
    from weasyprint import HTML

    HTML(string="<p>Cover</p><p style='break-before: page'>Trend</p>").write_pdf(tmp_path / "report.pdf")
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "report.pdf"), "1", "2", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    pictures = [tmp_path / "report-page-1.png", tmp_path / "report-page-2.png"]
    assert run.stdout.split() == [str(p) for p in pictures]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pictures)
