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
from auditor.memory import one_job_per_process


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


# Each command's summary, as `auditor --help` lists it, so that listing them imports no command's
# modules (tests/cli/test_command_loading.py holds each to its command's own help text)
SUMMARIES = {
    "audit": "The tamper-evident audit log: verify it, sign checkpoints, prove an event is in it.",
    "cases": "The privacy office's cases: one per member and period, reviewed and closed.",
    "db": "Database schema (Alembic migrations).",
    "demo": "A demo vault, a month of audited activity, and the monthly privacy audit report, in a new folder.",
    "evaluate": ("Score the rules against a simulation's labels: per-rule precision and recall (event level) and the "
                 "share of normal traffic explained; how the triage order serves the labelled events (the share inside"
                 " the review budget, the risk score's ROC AUC)."),
    "explain": "Explanation templates: proposed from the site's data (mine), approved by an officer (approve).",
    "export": "Export the audit log in a standard format.",
    "feeds": "System accounts of the FHIR endpoint (POST /fhir/AuditEvent): not people, a bearer token each.",
    "findings": "Run the privacy rules over the audit log for a period of local days and write the findings.",
    "formats": "The audit-log formats `auditor ingest --format` reads: its own readers and vendors' mapping files.",
    "forward": ("Send the audit log's events, from where the last run to this receiver stopped, as IHE ATNA audit "
                "messages (MSGID IHE+RFC-3881) over TLS syslog, to a SIEM or another auditor's listen."),
    "import": "Load outside data into the vault (through the audited gateway).",
    "ingest": ("Load an EHR's audit log: the interchange export (workforce, patients, encounters, care team, orders,"
               " appointments, documents, access log), or with --format an audit log in another format (access "
               "events only)."),
    "init": "Create a new vault home: keyring (mode 0600), key store, records database.",
    "keys": "Key-encryption keys: status and rotation.",
    "listen": ("Receive IHE ATNA audit messages (DICOM PS3.15 AuditMessage XML, MSGID IHE+RFC-3881) and load them "
               "into the audit log as `auditor ingest --format atna` would, until stopped (SIGINT or SIGTERM)."),
    "login": "Sign in as USER (password and TOTP code) for the commands that follow.",
    "logout": "End this OS account's session on the vault and remove its token.",
    "policy": "The privacy rules: policies/rules/*.yaml and a site's overrides.",
    "records": "Patient records, read through the audited access gateway.",
    "report": "Reports: the monthly privacy audit report, a patient's access report.",
    "retention": "Retention schedules, legal holds, and purge by crypto-shredding.",
    "roi": "Release of information: requests, authorizations, releases, denials, the accounting of disclosures.",
    "serve": ("Serve the privacy office's web app on a vault until stopped (Ctrl-C, or SIGTERM from a service "
              "manager; either way the vault is closed and what the app appended to the audit log is signed)."),
    "simulate": "Write a synthetic hospital's month as an interchange directory, with labels.csv beside it.",
    "suppressions": "Approved exceptions: matching findings are kept and marked muted.",
    "users": "Staff accounts: who signs in to the web app and the CLI, with which roles.",
}


class _CommandsWhenAsked(click.Group):
    """The `auditor` group: a command's modules are imported (and register it) when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module in COMMANDS.get(name, ()):
            importlib.import_module(f"auditor.cli.{module}")
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands as click lists them (each summary cut to the width as click cuts a command's
        help), from SUMMARIES: `auditor --help` starts as `--version` does."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        with formatter.section("Commands"):
            formatter.write_dl([(name, click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit))
                                for name in names])


# commands that serve until stopped: freed memory goes back to the kernel (glibc's own thresholds), or
# the app would hold the peak of its largest piece of work (a monthly report: gigabytes) until restarted
LONG_RUNNING = frozenset({"serve", "listen"})


@click.group(cls=_CommandsWhenAsked, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("--home", envvar="AUDITOR_HOME", type=click.Path(file_okay=False), help="Vault home (default: $AUDITOR_HOME).")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Medical-records privacy auditor: encrypted vault, audited access, tamper-evident audit log."""
    given = ctx.obj or {}
    ctx.obj = {"home": home, "clock": given.get("clock") or SystemClock()}
    if ctx.invoked_subcommand not in LONG_RUNNING:
        one_job_per_process()  # reuse freed columns instead of faulting fresh pages in; freeze a review's objects


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> None:
    """The `auditor` command. `clock`: what "now" is (tests pass a fixed one; the command line
    cannot set it, so nobody dates a purge or a deadline by saying what day it is)."""
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
