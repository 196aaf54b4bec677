"""Writers: one report context, several files. HTML is self-contained (inline CSS and SVG, no
script, no network); the PDF is the same HTML laid out by WeasyPrint with page numbers and running
headers; findings.csv and findings.json are the findings the report was made from. Every file holds
PHI and is written owner-only (auditor.phi_files)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from jinja2 import TemplateError

from auditor.errors import ConfigurationError
from auditor.phi_files import write_private
from auditor.policy.findings import Finding
from auditor.reporting.templates import Site, environment

FINDING_COLUMNS = ["case", "rule", "severity", "risk", "user_id", "mrn", "event_ids", "explanation", "muted",
                   "first_at", "last_at", "title"]


def findings_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"


def findings_csv(findings: list[Finding]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FINDING_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in (f.to_dict() for f in findings):
        writer.writerow({**row, "event_ids": ";".join(row["event_ids"]), "muted": str(row["muted"]).lower()})
    return out.getvalue()


def render_html(site: Site, template: str, context: dict) -> str:
    """Render; a template error (a missing value, a site template that does not parse) is a
    ConfigurationError naming the template, never a half-rendered report."""
    try:
        return environment(site).get_template(template).render(**context)
    except TemplateError as exc:
        where = getattr(exc, "name", None) or template
        line = getattr(exc, "lineno", None)
        raise ConfigurationError(f"report template {where}{f':{line}' if line else ''}: {exc.message}") from None


def html_to_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise ConfigurationError(f"PDF output needs WeasyPrint and its Pango libraries ({type(exc).__name__}); "
                                 "install them or use --no-pdf") from None
    return HTML(string=html, base_url=None).write_pdf()


def write_report(out_dir: Path, stem: str, html: str, pdf: bool = True) -> dict[str, Path]:
    """<stem>.html and, unless pdf is False, <stem>.pdf in out_dir (created owner-only)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = {"html": out_dir / f"{stem}.html"}
    write_private(written["html"], html)
    if pdf:
        written["pdf"] = out_dir / f"{stem}.pdf"
        write_private(written["pdf"], html_to_pdf(html))
    return written


def write_findings(out_dir: Path, findings: list[Finding]) -> dict[str, Path]:
    paths = {"csv": Path(out_dir) / "findings.csv", "json": Path(out_dir) / "findings.json"}
    write_private(paths["csv"], findings_csv(findings))
    write_private(paths["json"], findings_json(findings))
    return paths
