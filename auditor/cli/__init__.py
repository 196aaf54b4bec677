"""The `auditor` command. Thin: parses, calls the package, prints. Every AuditorError becomes one line
on stderr and exit status 2; a verification that finds tampering exits 1.

Each command's module is imported when the command is asked for (COMMANDS), not at start: a command
loads what it needs (the database layer, pandas, Arrow), not what every other command needs, and
`auditor --version` loads none of it."""

from __future__ import annotations

import importlib
import os
import sys

import click

from auditor import __version__
from auditor.clock import Clock, SystemClock
from auditor.errors import AuditorError
from auditor.memory import keep_freed_memory


COMMANDS = {  # each command, and the modules of auditor.cli that define it and its subcommands
    "audit": ("audit_commands", "retention_commands"), "cases": ("case_commands",), "db": ("vault_commands",),
    "demo": ("demo",), "evaluate": ("simulation_commands",), "explain": ("explain_commands",),
    "export": ("export_commands",), "feeds": ("feed_commands",), "findings": ("policy_commands",),
    "formats": ("format_commands",), "forward": ("listen_commands",), "import": ("vault_commands",),
    "ingest": ("ingest_commands",), "init": ("vault_commands",), "keys": ("vault_commands",),
    "listen": ("listen_commands",), "login": ("staff_commands",), "logout": ("staff_commands",),
    "policy": ("policy_commands",), "records": ("records_commands",), "report": ("report_commands",),
    "retention": ("retention_commands",), "roi": ("roi_commands",), "serve": ("web_commands",),
    "simulate": ("simulation_commands",), "suppressions": ("case_commands",), "users": ("staff_commands",),
}


class _CommandsWhenAsked(click.Group):
    """The `auditor` group: a command's modules are imported (and register it) when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module in COMMANDS.get(name, ()):
            importlib.import_module(f"auditor.cli.{module}")
        return super().get_command(ctx, name)


@click.group(cls=_CommandsWhenAsked, context_settings={"help_option_names": ["-h", "--help"]})
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
