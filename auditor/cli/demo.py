"""auditor demo: the README's first command. In a new folder: a fresh vault, a synthetic hospital's
month of EHR activity (patients named from the Synthea sample when it is beside the checkout)
ingested through the audited gateway, a chart read and a refusal through the gateway itself, the
policy run, and the monthly privacy audit report, ending with the paths of report.html and
report.pdf.

The folder holds a keyring, so by default it goes under the user's data folder
($XDG_DATA_HOME/auditor, i.e. ~/.local/share/auditor), never into the current directory (often a
checkout, where `git add .` would pick it up): the data folder is the user's own and outlives a
reboot, which a temporary folder does not, and the demo's last line sends the user back to it. A
demo that fails leaves no folder behind."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import OperationalError

from auditor.cli import cli
from auditor.cli.session import clock_of
from auditor.errors import AccessDenied, HomeExists, OutputError
from auditor.reporting.writers import check_destination

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea" / "csv"
ZONE = "America/New_York"
DEFAULT_EVENTS = 200_000


def data_folder() -> Path:
    """Where a user's application data goes (XDG Base Directory): $XDG_DATA_HOME or ~/.local/share."""
    given = os.environ.get("XDG_DATA_HOME", "")
    return Path(given) if os.path.isabs(given) else Path.home() / ".local" / "share"


def default_out(now: datetime) -> Path:
    """A new folder auditor/demo-<local time> in the user's data folder."""
    base = data_folder() / "auditor" / f"demo-{now.astimezone():%Y%m%d-%H%M%S}"
    out, n = base, 1
    while out.exists():  # two demos in one second
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


@contextmanager
def _new_folder(out: Path):
    """The demo's folder, removed again (or emptied of what the demo put in it) if the demo fails."""
    was_new = not out.exists()
    try:
        yield out
    except BaseException:
        if was_new:
            shutil.rmtree(out, ignore_errors=True)
        else:  # an empty folder the user named: take out only what we made
            for name in ("vault", "export", "report"):
                shutil.rmtree(out / name, ignore_errors=True)
        raise


def last_full_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first:%Y-%m}"


@contextmanager
def _steps(console: Console):
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        def step(description: str, total: int = 1):
            return progress.add_task(description, total=total)
        yield progress, step


def _gateway_reads(vault) -> str:
    """An attending opens a chart and a physician from another department is refused: the vault's
    own accesses go into the same audit log the rules read."""
    from sqlalchemy import select

    from auditor.vault.gateway import AccessContext, EncounterRecord
    from auditor.vault.records import Encounter, WorkforceMember

    with vault.records.connect() as conn:  # ids only, no PHI
        attending = conn.execute(select(WorkforceMember.user_id, WorkforceMember.department, Encounter.patient_id)
                                 .join(Encounter, Encounter.attending_id == WorkforceMember.id)
                                 .where(WorkforceMember.role == "physician", WorkforceMember.termination_date.is_(None))
                                 .order_by(Encounter.start.desc()).limit(1)).one()
        outsider = conn.scalar(select(WorkforceMember.user_id).where(
            WorkforceMember.department != attending.department, WorkforceMember.role == "physician",
            WorkforceMember.termination_date.is_(None)).limit(1))
    mrn = vault.gateway.read_patients(AccessContext.service("report"), [attending.patient_id])[attending.patient_id].mrn
    now = vault.clock.now()  # seen today, so the physician has a treatment relationship now
    vault.gateway.add_encounters(AccessContext.service("import"), [EncounterRecord(
        "demo", f"visit-{now:%Y%m%d%H%M%S}", mrn, "outpatient", now, now, attending.department, attending.user_id)])
    chart = vault.gateway.read_chart(AccessContext(attending.user_id, "TREAT"), mrn)
    lines = [f"{attending.user_id} opened a chart through the gateway (basis: {chart.basis})"]
    try:
        vault.gateway.read_chart(AccessContext(outsider, "TREAT"), mrn)
    except AccessDenied as exc:
        lines.append(f"{outsider} was refused ({exc}); the attempt is in the audit log")
    lines.append(f"open it yourself: auditor records show --mrn {mrn} --user {attending.user_id} --purpose TREAT")
    return "\n".join(lines)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="New folder for the demo (default: ~/.local/share/auditor/demo-<time>, or under $XDG_DATA_HOME).")
@click.option("--events", type=click.IntRange(2_000, 5_000_000), default=DEFAULT_EVENTS, show_default=True,
              help="Access events in the simulated month.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the synthetic hospital.")
@click.option("--synthea", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Synthea CSV export whose patients name the simulated ones (default: ../shared/data/synthea/csv if present).")
@click.option("--no-pdf", is_flag=True, help="Write report.html only.")
@click.pass_context
def demo(ctx, out, events, seed, synthea, no_pdf):
    """A demo vault, a month of audited activity, and the monthly privacy audit report, in a new folder."""
    out = (out or default_out(clock_of(ctx).now())).resolve()
    check_destination(out, folder=True)
    if out.exists() and any(out.iterdir()):
        raise HomeExists(f"{out} exists and is not empty; choose another --out")
    synthea = synthea or (SYNTHEA if SYNTHEA.is_dir() else None)
    console = Console(stderr=True)
    console.print(f"demo folder: {out}")
    try:
        with _new_folder(out):
            made = _run_demo(clock_of(ctx), out, events, seed, synthea, no_pdf, console)
    except (OSError, OperationalError) as exc:  # a full disk under the vault, the export or the report
        reason = exc.strerror if isinstance(exc, OSError) else str(exc.orig)  # SQLite's text names no value
        raise OutputError(f"cannot make the demo in {out}: {reason or type(exc).__name__}; nothing was left "
                          "there") from None
    _summary(out, made)


@dataclass
class _Demo:
    ingested: object
    hospital: object
    reads: str
    period: object
    context: dict
    verified: object
    paths: dict
    seconds: float


def _run_demo(clock, out: Path, events: int, seed: int, synthea: Path | None, no_pdf: bool, console: Console) -> _Demo:
    from auditor.vault.integrity import verify_vault
    from auditor.cases.settings import load_case_settings
    from auditor.home import create_home
    from auditor.vault.gateway.context import Operator
    from auditor.ingest.ehr_import import ingest_directory
    from auditor.policy.rules import load_policy
    from auditor.reporting import monthly, writers
    from auditor.reporting.templates import load_site
    from auditor.simulation.writer import write_hospital

    started = time.perf_counter()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    vault = create_home(out / "vault", clock=clock, operator=Operator.of_this_process())
    try:
        month = last_full_month(vault.clock.now().astimezone(ZoneInfo(ZONE)).date())
        with _steps(console) as (progress, step):
            task = step(f"simulating {events:,} accesses in {month}")
            hospital = write_hospital(out / "export", seed, events=events, month=month, zone=ZONE, synthea=synthea)
            progress.update(task, completed=1)
            task = step("ingesting the export through the gateway", total=5)  # the contract's five files
            vault.set_timezone(ZoneInfo(ZONE))
            ingested = ingest_directory(vault.gateway, out / "export", ZoneInfo(ZONE),
                                        progress=lambda name: progress.advance(task))
            progress.update(task, completed=5)
            reads = _gateway_reads(vault)
            task = step("running the privacy rules", total=1)
            policy = load_policy()
            period = monthly.month_period(month, ZoneInfo(ZONE))
            verification = monthly.start_verification(vault)
            run = monthly.audit_month(vault, period, policy)
            progress.update(task, completed=1)
            task = step("writing the monthly report", total=2)
            site = load_site(None, "Demo General Hospital (synthetic)")
            context = monthly.build_monthly(vault, run, policy, site, author="auditor demo",
                                            case_settings=load_case_settings(), verification=verification)
            html = writers.render_html(site, "monthly.html", context)
            progress.advance(task)
            paths = writers.write_monthly(out / "report", html, run.findings, pdf=not no_pdf, site=site)
            progress.advance(task)
        with vault.records.connect() as conn:
            vault.audit_log.checkpoint_now(conn)
        verified = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    finally:
        vault.close()
    return _Demo(ingested, hospital, reads, period, context, verified, paths, time.perf_counter() - started)


def _summary(out: Path, made: _Demo) -> None:
    log = made.ingested.files.get("access_log.csv")
    summary = made.context["summary"]
    share = "n/a" if summary["explained_share"] is None else f"{summary['explained_share']:.1%}"
    click.echo(f"demo folder: {out}")
    click.echo(f"vault: {out / 'vault'}")
    click.echo(f"ingested {log.loaded if log else 0:,} access events of a synthetic hospital "
               f"({sum(made.hospital.label_counts.values()):,} labelled in {out / 'export' / 'labels.csv'})")
    click.echo(made.reads)
    click.echo(f"{made.period.first_day:%B %Y}: {summary['accesses']:,} patient accesses, {share} explained, "
               f"{summary['findings']:,} findings in {summary['cases']:,} cases")
    verifies = "verifies" if made.verified.ok else "DOES NOT VERIFY"
    click.echo(f"audit log: {made.verified.size:,} events, {verifies} against "
               f"{made.verified.checkpoints_checked} signed checkpoints"
               + ("; every row it records is as recorded" if made.verified.ok else ""))
    click.echo(f"done in {made.seconds:.0f} s. The report:")
    for kind in ("html", "pdf"):
        if kind in made.paths:
            click.echo(f"  {made.paths[kind]}")
    click.echo(f"next: export AUDITOR_HOME={out / 'vault'}; auditor cases list; "
               f"auditor evaluate --labels {out / 'export' / 'labels.csv'}")
