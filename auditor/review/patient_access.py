"""A patient's access report as a use case: "who accessed my record and why" (45 CFR 164.308(a)(1)(ii)(D)
review data, given to the patient or their representative at the privacy office's discretion; the
accounting of disclosures, 164.528, is the release-of-information side's). Every successful access to
the patient's record in the period, with the treatment relationship that explains it, if one does.
The patient is found by MRN and the members' names are read through the gateway as svc:report, so
producing the report is itself audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from auditor.cases.listing import case_status_of_events
from auditor.errors import InputError, NotFound
from auditor.home import Vault
from auditor.policy.context import build_context
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy, load_policy
from auditor.reporting import writers
from auditor.reporting.patient import PatientAccess, PatientAccessReport, patient_context
from auditor.reporting.templates import Site
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.directory import ReportDirectory

LOOKBACK_YEARS = 3  # the default period: three years up to today


def report_days(vault: Vault, first_day: date | None, last_day: date | None) -> tuple[date, date]:
    """The period asked for: up to today and three years back by default."""
    last = last_day or vault.today()
    first = first_day or last.replace(year=last.year - LOOKBACK_YEARS, day=min(last.day, 28))
    if last < first:
        raise InputError("--to is before --from")
    return first, last


def patient_access_report(vault: Vault, mrn: str, first_day: date | None = None, last_day: date | None = None,
                          policy: Policy | None = None, reader: AccessContext | None = None) -> PatientAccessReport:
    """Every access to the record of the patient with `mrn` in the period (NotFound, without the MRN,
    when there is no such patient). `reader`: who looks the patient up (a signed-in member of the
    office, audited in their own name; svc:report when None); the members' names are the directory's,
    read as svc:report."""
    policy = policy or load_policy()
    first, last = report_days(vault, first_day, last_day)
    ctx = AccessContext.service("report")
    found = [p for p in vault.gateway.search_patients(reader or ctx, mrn=mrn) if p.mrn == mrn.strip()]
    if not found:
        raise NotFound("no patient with that MRN")  # never echo the MRN: it identifies a patient
    patient, tz = found[0], vault.timezone
    frames = load_frames(vault.records, Period(first, last, tz), patient_id=patient.patient_id,
                         log_key=vault.keyring.log_mac_key)
    accesses = build_context(frames, policy.settings).accesses.sort_values("at", kind="stable")
    names = ReportDirectory(vault.gateway, ctx).people(sorted(set(accesses["user_id"].dropna())))
    text = lambda v: v if isinstance(v, str) else None  # noqa: E731  (a missing category is NaN)
    review = case_status_of_events(vault.records, patient.patient_id)
    rows = [PatientAccess(a.at.tz_convert(tz).to_pydatetime(), a.user_id, names.get(a.user_id, a.user_id),
                          text(a.role), text(a.department_label), str(a.action), text(a.record_type), text(a.purpose),
                          bool(a.break_glass), str(a.explained_by) if a.explained else None,
                          None if a.explained else review.get(str(a.event_ref)))
            for a in accesses.itertuples()]  # one patient's accesses: a short list, read by a person
    return PatientAccessReport(patient, first, last, tz, vault.clock.now(), rows)


def write_patient_access_report(report: PatientAccessReport, site: Site, out: Path, *,
                                pdf: bool = True) -> dict[str, Path]:
    """access-report.html (and .pdf) in the folder `out`, owner-only, together or not at all."""
    html = writers.render_html(site, "patient.html", patient_context(report, site))
    return writers.write_report(out, "access-report", html, pdf=pdf, site=site)
