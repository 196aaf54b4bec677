"""Every page of the app and the roles that may open it: the one role x route table. A page opens
for the roles it names and for no one else (default deny: a page without roles cannot be declared);
a page that shows PHI reads it through the gateway as the signed-in account (View.access_context)."""

from __future__ import annotations

from auditor.staff.roles import ADMIN, EVERY_ROLE
from auditor.web import (admin, audit_log, cases, fhir, home, login, patient_access, release_pages, reports_pages,
                         retention_pages, suppressions)
from auditor.web.fhir_api import Api
from auditor.web.routing import Page

PAGES: list[Page] = [
    # signing in: the only public pages
    Page("/login", "login", login.login_form, public=True),
    Page("/login", "login_password", login.login_password, methods=("POST",), public=True),
    Page("/login/code", "login_code", login.code_form, public=True),
    Page("/login/code", "login_code_check", login.login_code, methods=("POST",), public=True),
    Page("/logout", "logout", login.logout, roles=EVERY_ROLE, methods=("POST",)),
    # the office
    Page("/", "home", home.home, roles=EVERY_ROLE, title="Home"),
    Page("/cases", "cases", cases.queue, roles=cases.CASE_READERS, title="Triage queue"),
    Page("/cases/{case_id:int}", "case", cases.show_case, roles=cases.CASE_READERS),
    Page("/cases/{case_id:int}/review", "review_case", cases.review_case, roles=cases.CASE_WORKERS, methods=("POST",)),
    Page("/cases/{case_id:int}/note", "note_case", cases.note_case, roles=cases.CASE_WORKERS, methods=("POST",)),
    Page("/cases/{case_id:int}/close", "close_case", cases.close_case, roles=cases.CASE_DECIDERS, methods=("POST",)),
    Page("/cases/{case_id:int}/propose", "propose_suppression", cases.propose_suppression, roles=cases.CASE_WORKERS,
         methods=("POST",)),
    Page("/suppressions", "suppressions", suppressions.pending, roles=suppressions.READERS, title="Suppressions"),
    Page("/suppressions/{suppression_id:int}/approve", "approve_suppression", suppressions.approve,
         roles=suppressions.APPROVERS, methods=("POST",)),
    *reports_pages.PAGES,
    *release_pages.PAGES,
    *retention_pages.PAGES,
    Page("/patient-access", "patient_access", patient_access.search_form, roles=patient_access.ROLES,
         title="Patient access"),
    Page("/patient-access", "patient_access_report", patient_access.report, roles=patient_access.ROLES,
         methods=("POST",)),
    Page("/audit-log", "audit_log", audit_log.audit_log, roles=audit_log.ROLES, title="Audit log"),
    Page("/audit-log/verify", "verify_audit_log", audit_log.verify, roles=audit_log.ROLES, methods=("POST",)),
    Page("/audit-log/proof", "audit_log_proof", audit_log.proof, roles=audit_log.ROLES, methods=("POST",)),
    # admin
    Page("/accounts", "accounts", admin.accounts, roles=frozenset({ADMIN}), title="Accounts"),
    Page("/accounts/add", "add_account", admin.add_account, roles=frozenset({ADMIN}), methods=("POST",)),
    Page("/accounts/disable", "disable_account", admin.disable_account, roles=frozenset({ADMIN}), methods=("POST",)),
    Page("/accounts/enable", "enable_account", admin.enable_account, roles=frozenset({ADMIN}), methods=("POST",)),
]

# system accounts, by bearer token and scope, never by a staff session (auditor.web.fhir_api)
API: list[Api] = fhir.API
