"""auditor records show: read a chart through the access gateway (audited)."""

from __future__ import annotations

import json

import click

from auditor.cli import cli
from auditor.cli.session import open_vault
from auditor.vault.gateway import AccessContext


@cli.group()
def records():
    """Patient records, read through the audited access gateway."""


@records.command("show")
@click.option("--mrn", required=True, help="The patient's medical record number.")
@click.option("--user", "user_id", required=True, help="The workforce account making the access.")
@click.option("--purpose", required=True, help="HL7 v3 purpose of use: TREAT, HPAYMT, HOPERAT, ...")
@click.option("--reason", help="Free-text reason (required with --break-glass).")
@click.option("--break-glass", is_flag=True, help="Emergency override of normal access rules (flagged for review).")
@click.option("--workstation", help="Terminal or session the access comes from.")
@click.option("--no-documents", is_flag=True, help="Demographics only.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def show(ctx, mrn, user_id, purpose, reason, break_glass, workstation, no_documents, fmt):
    """Show one patient's chart. The access (or the refusal) is written to the audit log first."""
    vault = open_vault(ctx)
    access = AccessContext(user_id=user_id, purpose=purpose, reason=reason, break_glass=break_glass,
                           workstation=workstation)
    chart = vault.gateway.read_chart(access, mrn, documents=not no_documents)
    vault.close()
    d = chart.demographics
    if fmt == "json":
        click.echo(json.dumps({
            "mrn": d.mrn, "first_name": d.first_name, "last_name": d.last_name, "birth_date": d.birth_date,
            "sex": d.sex, "address_line": d.address_line, "city": d.city, "state": d.state,
            "postal_code": d.postal_code, "phone": d.phone, "vip": d.vip, "restricted": d.restricted,
            "deceased_on": d.deceased_on.isoformat() if d.deceased_on else None, "access_basis": chart.basis,
            "documents": [{"type": doc.doc_type, "sensitivity": doc.sensitivity,
                           "recorded_at": doc.recorded_at.isoformat(), "title": doc.title, "body": doc.body}
                          for doc in chart.documents],
            "withheld_documents": chart.withheld,
        }, indent=2))
        return
    flags = [f for f, on in (("VIP", d.vip), ("restricted", d.restricted)) if on]
    click.echo(f"{d.last_name or '?'}, {d.first_name or '?'}   MRN {d.mrn}   born {d.birth_date or '?'}"
               + (f"   [{', '.join(flags)}]" if flags else ""))
    address = ", ".join(p for p in (d.address_line, d.city, d.state, d.postal_code) if p)
    click.echo(f"  sex: {d.sex or '?'}   address: {address or '?'}   phone: {d.phone or '?'}")
    if d.deceased_on:
        click.echo(f"  deceased {d.deceased_on.isoformat()}")
    click.echo(f"  access basis: {chart.basis}")
    if not no_documents:
        click.echo(f"documents ({len(chart.documents)} shown, {chart.withheld} withheld for this role):")
        for doc in chart.documents:
            click.echo(f"  {doc.recorded_at.date().isoformat()}  {doc.doc_type:<10} {doc.sensitivity:<14} {doc.title or ''}")
