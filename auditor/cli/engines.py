"""--engine local|partitioned|spark, --master, --export-dir, --part-events: where the privacy rules run,
for every command that runs them (auditor findings, report monthly, evaluate). The choice is checked
before any work. Every engine gives the same findings; they differ in what they hold at once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from auditor.errors import InputError
from auditor.reporting.writers import check_destination


def engine_choice(command):
    """The four options, on `command` (its function takes engine, master, export_dir, part_events)."""
    command = click.option("--part-events", type=click.IntRange(min=1),
                           help="With --engine partitioned or spark: a role of more events than this is judged in "
                                "parts, each peer group whole (default 2,000,000: about 2 GB of a task's "
                                "memory; size it to what one task may hold).")(command)
    command = click.option("--export-dir", type=click.Path(file_okay=False, path_type=Path),
                           help="With --engine spark: a new or empty folder for the export, on storage the "
                                "executors read (default: a temporary folder, removed afterwards).")(command)
    command = click.option("--master", help="With --engine spark: the Spark master: local[2] (the default), "
                                            "spark://HOST:7077, yarn, k8s://...")(command)
    return click.option("--engine", type=click.Choice(["local", "partitioned", "spark"]), default="local",
                        show_default=True,
                        help="local: on this machine, the period at once; partitioned: on this machine, one role at "
                             "a time (a month larger than memory); spark: on a Spark cluster (--master), the period "
                             "sent to it as a signed export (auditor export month) that it checks first.")(command)


def engine_options(engine: str, master: str | None, export_dir: Path | None, part_events: int | None = None):
    """(member, tally) -> the engine that judges a period (auditor.review.period.Judge), on a cluster in
    the member's name; `tally`: what each partition counts for the caller (auditor.cluster.partitions.Tally;
    the local engine holds the whole period and ignores it). `part_events`: a role of more events is
    judged in parts by peer group (auditor.cluster.peer_group_split; None: its PART_EVENTS)."""
    from auditor.cluster.peer_group_split import PART_EVENTS
    from auditor.review.period import on_this_machine

    most = PART_EVENTS if part_events is None else part_events
    if engine != "spark":
        if master or export_dir:
            raise InputError("--master and --export-dir go with --engine spark")
        if engine == "partitioned":
            from auditor.cluster.local_partitions import ByRole
            return lambda member, tally=None: ByRole(tally, most)
        if part_events is not None:
            raise InputError("--part-events goes with --engine partitioned or spark")
        return lambda member, tally=None: on_this_machine
    from auditor.phi_files import check_empty_folder
    from auditor.review.month_export import OnSpark
    if importlib.util.find_spec("pyspark") is None:
        raise InputError("--engine spark needs pyspark: pip install 'auditor[spark]' (and Java 17)")
    if export_dir is not None:
        check_destination(export_dir, folder=True)
        check_empty_folder(export_dir)
    return lambda member, tally=None: OnSpark(master or "local[2]", member, export_dir, tally, most)


def warn_of_a_large_part(review) -> None:
    """One line on stderr when an engine judging in partitions held a part of more events than
    --part-events (a role the workforce file gives no departments, one large peer group, a role's
    rest): its memory is that part's, not the bound's."""
    over = review.part_over_bound
    if over is not None:
        click.echo(f"warning: one part of the period held {over[0]:,} events, more than --part-events "
                   f"({over[1]:,}): a role is cut only into whole peer groups of a department, so give "
                   "departments in workforce.csv (README: --part-events)", err=True)
