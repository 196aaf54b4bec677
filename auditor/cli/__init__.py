"""The `auditor` command. Thin: parses, calls the package, prints. Every AuditorError becomes one line
on stderr and exit status 2; a verification that finds tampering exits 1."""

from __future__ import annotations

import os
import sys

import click

from auditor import __version__
from auditor.clock import Clock, SystemClock
from auditor.errors import AuditorError
from auditor.memory import keep_freed_memory


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("--home", envvar="AUDITOR_HOME", type=click.Path(file_okay=False), help="Vault home (default: $AUDITOR_HOME).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Medical-records privacy auditor: encrypted vault, audited access, tamper-evident audit log."""
    given = ctx.obj or {}
    ctx.obj = {"home": home, "clock": given.get("clock") or SystemClock()}


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> None:
    """The `auditor` command. `clock`: what "now" is (tests pass a fixed one; the command line
    cannot set it, so nobody dates a purge or a deadline by saying what day it is)."""
    keep_freed_memory()  # one job per process: reuse freed columns instead of faulting fresh pages in
    try:
        cli.main(args=argv, prog_name="auditor", standalone_mode=False, obj={"clock": clock})
    except click.exceptions.Abort:
        click.echo("auditor: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:  # usage errors: one line, exit 2
        click.echo(f"auditor: {exc.format_message()}", err=True)
        sys.exit(2)
    except AuditorError as exc:
        click.echo(f"auditor: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("auditor: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, never print values that may hold PHI
        if os.environ.get("AUDITOR_DEBUG"):
            raise
        click.echo(f"auditor: internal error ({type(exc).__name__}); rerun with AUDITOR_DEBUG=1 for details", err=True)
        sys.exit(1)
    sys.exit(0)


from auditor.cli import audit_commands, case_commands, demo, ingest_commands, policy_commands, records_commands, report_commands, retention_commands, roi_commands, simulation_commands, vault_commands  # noqa: E402,F401  (registers)
from auditor.cli import explain_commands, export_commands, feed_commands, format_commands, listen_commands, staff_commands, web_commands  # noqa: E402,F401  (registers)
