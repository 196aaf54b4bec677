"""The privacy office's roles. What each may open is declared by the web app's routes
(auditor.web.routes) and, for the CLI, by the commands that check a role."""

from __future__ import annotations

from auditor.errors import InputError

ADMIN = "admin"
PRIVACY_OFFICER = "privacy_officer"
INVESTIGATOR = "investigator"
ROI_COORDINATOR = "roi_coordinator"
RECORDS_MANAGER = "records_manager"
VIEWER = "viewer"

# HL7 v3 PurposeOfUse of every read the privacy office makes in its own name: compliance (its review of
# accesses, 45 CFR 164.308(a)(1)(ii)(D), and its investigation of findings), audited as such
OFFICE_REVIEW = "HCOMPL"

ROLES: dict[str, str] = {
    ADMIN: "manages staff accounts and roles",
    PRIVACY_OFFICER: "triages findings, closes cases, approves suppressions, signs the monthly report",
    INVESTIGATOR: "works the cases assigned to the office: timelines, evidence, notes",
    ROI_COORDINATOR: "release of information: intake, authorizations, fulfilment, accounting",
    RECORDS_MANAGER: "retention: the plan, legal holds, purges",
    VIEWER: "reads the office's pages, changes nothing",
}
EVERY_ROLE = frozenset(ROLES)


def parse_roles(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Role names as given (each may be comma-separated), checked and sorted; InputError names the
    unknown ones."""
    wanted = {part.strip() for name in names for part in name.split(",") if part.strip()}
    if not wanted:
        raise InputError(f"give at least one role: {', '.join(ROLES)}")
    unknown = sorted(wanted - EVERY_ROLE)
    if unknown:
        raise InputError(f"unknown role(s) {', '.join(unknown)}; the roles are: {', '.join(ROLES)}")
    return tuple(sorted(wanted))


def stored(roles: tuple[str, ...]) -> str:
    return ",".join(sorted(roles))


def loaded(text: str) -> tuple[str, ...]:
    return tuple(sorted(r for r in text.split(",") if r))
