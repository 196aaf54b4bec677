"""auditor demo: the README's first command. In a new folder: a fresh vault, a synthetic hospital's
month of EHR activity (patients named from the Synthea sample when it is beside the checkout)
ingested through the audited gateway, a chart read and a refusal through the gateway itself, the
policy run, and the monthly privacy audit report, then the paths of report.html and report.pdf and,
last, the one command that starts the web app on the demo vault with the demo's staff account to
sign in as (its password and TOTP secret printed: a synthetic hospital's vault only). The work is
auditor.review.demo's; this shows its progress and prints what it made.

The folder holds a keyring, so by default it goes under the user's data folder
($XDG_DATA_HOME/auditor, i.e. ~/.local/share/auditor), never into the current directory (often a
checkout, where `git add .` would pick it up): the data folder is the user's own and outlives a
reboot, which a temporary folder does not, and the demo's last line sends the user back to it. A
demo that fails leaves no folder behind."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import OperationalError

from auditor.cli import cli
from auditor.cli.session import clock_of
from auditor.errors import HomeExists, OutputError
from auditor.reporting.writers import check_destination
from auditor.review.demo import SIGN_IN_FILE, Demo, DemoRequest, run_demo

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea" / "csv"
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
            (out / SIGN_IN_FILE).unlink(missing_ok=True)
        raise


class _RichSteps:
    """The demo's steps as rich progress bars on stderr: a step begun completes the one before."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.task, self.parts = progress, None, 0

    def begin(self, description: str, parts: int = 1) -> None:
        self.finish()
        self.task, self.parts = self.progress.add_task(description, total=parts), parts

    def advance(self) -> None:
        if self.task is not None:
            self.progress.advance(self.task)

    def finish(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.parts)


@contextmanager
def _steps(console: Console):
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        steps = _RichSteps(progress)
        yield steps
        steps.finish()


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
        with _new_folder(out), _steps(console) as steps:
            made = run_demo(clock_of(ctx), DemoRequest(out, events, seed, synthea, pdf=not no_pdf), steps)
    except (OSError, OperationalError) as exc:  # a full disk under the vault, the export or the report
        reason = exc.strerror if isinstance(exc, OSError) else str(exc.orig)  # SQLite's text names no value
        raise OutputError(f"cannot make the demo in {out}: {reason or type(exc).__name__}; nothing was left "
                          "there") from None
    _summary(out, made)


def _summary(out: Path, made: Demo) -> None:
    head = made.headline
    share = "n/a" if head.explained_share is None else f"{head.explained_share:.1%}"
    click.echo(f"demo folder: {out}")
    click.echo(f"vault: {made.vault}")
    click.echo(f"ingested {made.access_events:,} access events of a synthetic hospital "
               f"({made.labelled:,} labelled in {made.export / 'labels.csv'})")
    click.echo("\n".join(made.reads))
    click.echo(f"{made.period.first_day:%B %Y}: {head.accesses:,} patient accesses, {share} explained, "
               f"{head.findings:,} findings in {head.cases:,} cases")
    verifies = "verifies" if made.verified.ok else "DOES NOT VERIFY"
    click.echo(f"audit log: {made.verified.size:,} events, {verifies} against "
               f"{made.verified.checkpoints_checked} signed checkpoints"
               + ("; every row it records is as recorded" if made.verified.ok else ""))
    click.echo(f"done in {made.seconds:.0f} s. The report:")
    for kind in ("html", "pdf"):
        if kind in made.paths:
            click.echo(f"  {made.paths[kind]}")
    click.echo(f"the command line: export AUDITOR_HOME={made.vault}; auditor login USER, then auditor cases list; "
               f"auditor evaluate --labels {made.export / 'labels.csv'}")
    click.echo(f"the web app (DEMO ONLY: this account's password and TOTP secret are printed here and kept in "
               f"{made.sign_in}, as they never are for a real account):")
    for line in made.account.instructions(made.vault):
        click.echo(f"  {line}")
