"""Writers: one report context, several files. HTML is self-contained (inline CSS and SVG, no
script, no network); the PDF is the same HTML laid out by WeasyPrint with page numbers and running
headers, fetching nothing outside reports/ and the site folder (auditor.reporting.pdf);
findings.csv and findings.json are the findings the report was made from. Every file holds PHI and
is written owner-only, and a command's files are placed together or not at all (auditor.phi_files).

Every CSV cell we write as text goes through `spreadsheet_safe`, so a user id such as
=HYPERLINK(...) opens in a spreadsheet as text, not as a formula."""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter
from pathlib import Path
from typing import Iterable

import orjson
from jinja2 import TemplateError

from auditor.errors import ConfigurationError, OutputError
from auditor.memory import no_cycle_collection
from auditor.phi_files import Outputs
from auditor.policy.findings import Finding
from auditor.reporting.templates import REPORTS_DIR, Site, environment

# OWASP CSV injection: a cell a spreadsheet would read as a formula (or as one after it trims a
# tab or carriage return) starts with one of these; a single quote in front makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FINDING_COLUMNS = ["case", "rule", "severity", "risk", "user_id", "mrn", "event_ids", "explanation", "muted",
                   "first_at", "last_at", "title"]


def findings_json_bytes(findings: list[Finding]) -> bytes:
    """The findings as a JSON array, two-space indented, UTF-8 (the CLI contract's layout). Each
    finding's keys are Finding.to_dict's; its values are read straight off the finding, since
    to_dict (dataclasses.asdict) copies every list and costs more than the writing."""
    if not findings:
        return b"[]\n"
    keys = list(findings[0].to_dict())
    values = attrgetter(*keys)
    with no_cycle_collection():
        return orjson.dumps([dict(zip(keys, values(f))) for f in findings], option=orjson.OPT_INDENT_2) + b"\n"


def findings_json(findings: list[Finding]) -> str:
    return findings_json_bytes(findings).decode("utf-8")


def findings_jsonl_bytes(findings: list[Finding]) -> bytes:
    """The findings as JSON lines (one finding an object a line, the keys of findings_json), UTF-8: what
    a SIEM (Splunk, Elastic, Sentinel) takes in one event a line."""
    if not findings:
        return b""
    keys = list(findings[0].to_dict())
    values = attrgetter(*keys)
    with no_cycle_collection():
        return b"".join(orjson.dumps(dict(zip(keys, values(f)))) + b"\n" for f in findings)


def spreadsheet_safe(cells: Iterable) -> list:
    """Cells as a spreadsheet must show them: a text cell that starts like a formula gets a ' in
    front. Numbers (risk, case) stay numbers: a number is not a formula, and a privacy officer sorts
    by risk. The one rule for every CSV the auditor writes (csv_text applies it to every column)."""
    return [("'" + c if c.startswith(FORMULA_STARTS) else c) if isinstance(c, str) else c for c in cells]


def _holds_carriage_return(column: list) -> bool:
    try:
        return "\r" in "".join(column)  # a column of text: one pass in C
    except TypeError:
        return any(isinstance(c, str) and "\r" in c for c in column)


def csv_text(header: list[str], columns: list[list]) -> str:
    """A CSV document (header, then one row per position of the columns, '\n' line ends), every
    cell through spreadsheet_safe; None is an empty cell. A row with a carriage return inside a cell
    has its text cells quoted: the csv module quotes only the line terminator's characters, and a
    spreadsheet would start a new row (and read its first cell as a formula) at a bare '\r'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(spreadsheet_safe(header))
    safe = list(map(spreadsheet_safe, columns))
    with no_cycle_collection():
        if not any(map(_holds_carriage_return, safe)):
            writer.writerows(zip(*safe))
        else:
            quoting = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
            for row in zip(*safe):
                (quoting if any(isinstance(c, str) and "\r" in c for c in row) else writer).writerow(row)
    return out.getvalue()


def findings_csv(findings: list[Finding]) -> str:
    """FINDING_COLUMNS: event ids joined by ';', muted as true/false."""
    with no_cycle_collection():
        columns = [[f.case for f in findings], [f.rule for f in findings], [f.severity for f in findings],
                   [f.risk for f in findings], [f.user_id for f in findings], [f.mrn for f in findings],
                   [";".join(f.event_ids) for f in findings], [f.explanation for f in findings],
                   ["true" if f.muted else "false" for f in findings], [f.first_at for f in findings],
                   [f.last_at for f in findings], [f.title for f in findings]]
    return csv_text(FINDING_COLUMNS, columns)


def _failing_template(exc: TemplateError, site: Site, template: str) -> str:
    """The template (and line) an error happened in: Jinja names it for a syntax error; for an error
    while rendering, the innermost template frame of the traceback does."""
    name, line = getattr(exc, "name", None), getattr(exc, "lineno", None)
    if name:
        return f"{name}{f':{line}' if line else ''}"
    tb, found = exc.__traceback__, template
    roots = [Path(REPORTS_DIR).absolute(), *([Path(site.folder).absolute()] if site.folder else [])]
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        for root in roots:
            if path.is_relative_to(root):
                found = f"{path.relative_to(root).as_posix()}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def render_html(site: Site, template: str, context: dict) -> str:
    """Render; a template error (a missing value, a site template that does not parse or reaches for
    what the sandbox forbids) is a ConfigurationError naming the template, never a half-rendered
    report."""
    try:
        return environment(site).get_template(template).render(**context)
    except TemplateError as exc:
        raise ConfigurationError(f"report template {_failing_template(exc, site, template)}: {exc.message}") from None


def html_to_pdf(html: str, site: Site | None = None) -> bytes:
    """The PDF; it may fetch data: URLs and files in reports/ and in the site's folder, nothing else."""
    try:
        from auditor.reporting.pdf import render_pdf
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise ConfigurationError(f"PDF output needs WeasyPrint and its Pango libraries ({type(exc).__name__}); "
                                 "install them or use --no-pdf") from None
    folders = [REPORTS_DIR, *([site.folder] if site is not None and site.folder is not None else [])]
    return render_pdf(html, folders)


def report_files(stem: str, html: str, pdf: bytes | None) -> dict[str, str | bytes]:
    """<stem>.html and, when there is one, <stem>.pdf: file name -> content."""
    return {f"{stem}.html": html, **({f"{stem}.pdf": pdf} if pdf is not None else {})}


def findings_files(findings: list[Finding]) -> dict[str, str | bytes]:
    """findings.json and findings.csv: file name -> content."""
    with ThreadPoolExecutor(max_workers=1) as work:  # orjson runs without the GIL while the CSV is made
        json_bytes = work.submit(findings_json_bytes, findings)
        text = findings_csv(findings)
        return {"findings.csv": text, "findings.json": json_bytes.result()}


def check_destination(path: Path, *, folder: bool) -> None:
    """Before any work is done: OutputError when `path` cannot become the output folder (folder=True)
    or file: something else in its place, or the folder it would go in is missing, not a folder or
    not writable. Writing can still fail later (a full disk): write_files then leaves nothing."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise OutputError(f"{path} is a folder, not a file")
    if (path.exists() or path.is_symlink()) and folder and not path.is_dir():
        raise OutputError(f"{path} exists and is not a folder")
    above = path.parent
    if folder:
        above = path
        while not above.exists() and above != above.parent:  # the nearest folder that exists
            above = above.parent
    if not above.is_dir():
        raise OutputError(f"cannot write {path}: {above} is {'not a folder' if above.exists() else 'missing'}")
    if not os.access(above, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: {above} is not writable")


def _new_folders(folder: Path) -> list[Path]:
    """The folders that creating `folder` would make, outermost first."""
    missing = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def write_files(out_dir: Path, files: dict[str, str | bytes]) -> dict[str, Path]:
    """Every file in `out_dir` (created owner-only), placed together or not at all: on any failure
    (a full disk, no permission, a file where the folder should be) no new file is left and the
    folders this call made are removed again. OutputError: one line naming the path and the reason."""
    out_dir = Path(out_dir)
    made = _new_folders(out_dir)
    try:
        try:
            out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            reason = "a file is in the way" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror
            raise OutputError(f"cannot create folder {out_dir}: {reason}") from None
        with Outputs() as outputs:
            for name, content in files.items():
                outputs.add(out_dir / name, content)
    except BaseException:
        for folder in reversed(made):
            try:
                folder.rmdir()  # only if empty: never a file someone else put there
            except OSError:
                break
        raise
    return {name: out_dir / name for name in files}


def write_report(out_dir: Path, stem: str, html: str, pdf: bool = True, site: Site | None = None) -> dict[str, Path]:
    """<stem>.html and, unless pdf is False, <stem>.pdf in out_dir (created owner-only), together."""
    files = report_files(stem, html, html_to_pdf(html, site) if pdf else None)  # made before anything is written
    written = write_files(out_dir, files)
    return {"html": written[f"{stem}.html"], **({"pdf": written[f"{stem}.pdf"]} if pdf else {})}


def write_findings(out_dir: Path, findings: list[Finding]) -> dict[str, Path]:
    """findings.json and findings.csv, together."""
    written = write_files(out_dir, findings_files(findings))
    return {"csv": written["findings.csv"], "json": written["findings.json"]}


def write_monthly(out_dir: Path, html: str, findings: list[Finding], pdf: bool = True,
                  site: Site | None = None) -> dict[str, Path]:
    """The monthly report's four files (report.html, report.pdf, findings.csv, findings.json) as
    one set: a full disk leaves none of them, never a report without the findings it states."""
    files = {**report_files("report", html, html_to_pdf(html, site) if pdf else None), **findings_files(findings)}
    written = write_files(out_dir, files)
    kinds = {"html": "report.html", "pdf": "report.pdf", "csv": "findings.csv", "json": "findings.json"}
    return {kind: written[name] for kind, name in kinds.items() if name in written}
