"""auditor formats list | formats check NAME|FILE [--sample PATH]: the formats ingest reads, and a
vendor's mapping file checked (and tried on a sample extract, loading nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli import cli

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
SHOWN_REFUSED = 20


@cli.group()
def formats():
    """The audit-log formats `auditor ingest --format` reads: its own readers and vendors' mapping files."""


@formats.command("list")
@click.option("--site-policies", type=_DIR, help="A folder of the site's policies (its formats/*.yaml).")
def list_command(site_policies):
    """Every format, with what it reads. A site's mapping file of a shipped name replaces ours."""
    from auditor.review.formats import list_formats

    known = list_formats(site_policies)
    width = max(len(f.name) for f in known)
    for found in known:
        said = found.title if found.problem is None else f"cannot be used: {found.problem}"
        click.echo(f"{found.name:<{width}}  {found.kind:<12}  {said}")
    if any(f.problem for f in known):
        sys.exit(2)


@formats.command("check")
@click.argument("name")
@click.option("--sample", type=click.Path(exists=True, path_type=Path),
              help="An extract (a file or a folder) to read as ingest would; nothing is loaded.")
@click.option("--site-policies", type=_DIR, help="A folder of the site's policies (its formats/*.yaml).")
@click.option("--tz", "tz_name", help="The zone of times written without an offset (default UTC; only whether "
                                      "they read matters here).")
def check_command(name, sample, site_policies, tz_name):
    """Check a mapping (a format's name, or a mapping file's path) and say what it reads; with
    --sample, what loading that extract would do: records that would load, those refused with their
    line and reason. Exit 1 when the sample has refused records; 2 when the mapping cannot be used."""
    from zoneinfo import ZoneInfo

    from auditor.review.formats import check_format
    from auditor.vault.settings import time_zone

    done = check_format(name, site_policies, sample, time_zone(tz_name) if tz_name else ZoneInfo("UTC"))
    mapping = done.mapping
    click.echo(f"{mapping.name}: {mapping.title} ({'shipped' if mapping.shipped else 'site'} mapping, "
               f"{mapping.path.name}); reads {', '.join(mapping.suffixes)} files, delimiter {mapping.delimiter!r}, "
               f"{mapping.encoding}")
    for name_, mapped in mapping.fields.items():
        click.echo(f"  {name_:<12} <- {_described(mapped)}")
    if done.sample is None:
        return
    for file, (loaded, refused) in done.sample.files.items():
        click.echo(f"sample {file}: {loaded + refused} records: {loaded} would load, {refused} refused")
    for entry in done.sample.refused[:SHOWN_REFUSED]:
        click.echo(f"refused {entry.file}:{entry.line}: {entry.reason}")
    if len(done.sample.refused) > SHOWN_REFUSED:
        click.echo(f"... and {len(done.sample.refused) - SHOWN_REFUSED} more")
    for what, n in sorted(done.sample.unmapped.items()):
        click.echo(f"warning: {n} event{'s' * (n != 1)}: {what}", err=True)
    if done.sample.refused:
        sys.exit(1)


def _described(mapped) -> str:
    if not mapped.columns:
        return f"always {str(mapped.value).lower() if isinstance(mapped.value, bool) else mapped.value}"
    said = f"column{'s' * (len(mapped.columns) > 1)} {', '.join(mapped.columns)}"
    extra = []
    if mapped.formats:
        extra.append(f"formats {' or '.join(mapped.formats)}, zone {mapped.zone}")
    if mapped.codes:
        extra.append(f"{len(mapped.codes)} code{'s' * (len(mapped.codes) != 1)}")
    if mapped.contains:
        extra.append(f"{len(mapped.contains)} substring{'s' * (len(mapped.contains) != 1)}")
    if mapped.otherwise is not None:
        extra.append(f"otherwise {str(mapped.otherwise).lower()}")
    elif mapped.coded:
        extra.append("another code: " + ("refused" if mapped.name == "action" else "left out"))
    if mapped.when:
        extra.append(f"only with {mapped.when}")
    return said + (f" ({'; '.join(extra)})" if extra else "")
