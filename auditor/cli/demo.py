"""auditor demo: the README's first command. A fresh vault, a population loaded through the audited
gateway, a few audited chart reads (one refused), and a verified audit log. (The synthetic month and
the monthly report join it with the policy engine and reporting.)"""

from __future__ import annotations

import time
from pathlib import Path

import click

from auditor.audit.verify import verify_log
from auditor.cli import cli
from auditor.errors import AccessDenied, HomeExists
from auditor.home import create_home

SYNTHEA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea" / "csv"


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="New folder for the demo vault.")
@click.option("--synthea", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Synthea CSV export to load (default: ../shared/data/synthea/csv).")
def demo(out, synthea):
    """Build a demo vault in a new folder and show the audited gateway and the verified log."""
    from sqlalchemy import select

    from auditor.ingest.synthea import import_synthea
    from auditor.vault.gateway import AccessContext, EncounterRecord
    from auditor.vault.records import Encounter, WorkforceMember

    out = out or Path(f"demo-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and any(out.iterdir()):
        raise HomeExists(f"{out} exists and is not empty; choose another --out")
    source = synthea or SYNTHEA
    vault = create_home(out.resolve())
    click.echo(f"vault home: {out.resolve()}")
    summary = import_synthea(vault.gateway, source, progress=lambda what, n: click.echo(f"  loaded {what}: {n}"))
    click.echo(f"imported {summary.patients} patients, {summary.workforce} workforce, {summary.encounters} encounters, "
               f"{summary.documents} documents (all PHI sealed; every write audited)")
    with vault.records.connect() as conn:  # pick a physician with a recent encounter: ids only, no PHI
        attending = conn.execute(select(WorkforceMember.user_id, WorkforceMember.department, Encounter.patient_id).join(
            Encounter, Encounter.attending_id == WorkforceMember.id).order_by(Encounter.start.desc()).limit(1)).one()
        outsider = conn.scalar(select(WorkforceMember.user_id).where(WorkforceMember.department != attending.department,
                                                                     WorkforceMember.role == "physician").limit(1))
    shown = vault.gateway.read_patients(AccessContext.service("report"), [attending.patient_id])
    mrn = shown[attending.patient_id].mrn
    now = vault.clock.now()  # the patient is seen today, so the physician has a treatment relationship
    vault.gateway.add_encounters(AccessContext.service("import"), [EncounterRecord(
        "demo", f"visit-{now:%Y%m%d%H%M%S}", mrn, "outpatient", now, now, attending.department, attending.user_id)])
    chart = vault.gateway.read_chart(AccessContext(attending.user_id, "TREAT"), mrn)
    click.echo(f"{attending.user_id} opened a chart (basis: {chart.basis}; {len(chart.documents)} documents shown, "
               f"{chart.withheld} withheld)")
    try:
        vault.gateway.read_chart(AccessContext(outsider, "TREAT"), mrn)
    except AccessDenied as exc:
        click.echo(f"{outsider} was refused ({exc}); the attempt is in the audit log")
    with vault.records.connect() as conn:
        vault.audit_log.checkpoint_now(conn)
    result = verify_log(vault.records, vault.keyring, [vault.checkpoints.path])
    click.echo(f"audit log: {result.size} events, {'verifies' if result.ok else 'DOES NOT VERIFY'}"
               f" against {result.checkpoints_checked} signed checkpoints")
    click.echo(f"next: AUDITOR_HOME={out} auditor records show --mrn {mrn} --user {attending.user_id} --purpose TREAT")
    vault.close()
