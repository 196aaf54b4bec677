"""What a month's review found, kept with what it was judged under, so that a later monthly report can
compare with that month, and count it in its six-month trend, without judging it or reading its
events again (issue 19: at 60 million events a month, judging the month before again was a second run
of the rules, about 190 s, and the trend read five months of the log once more).

A kept review stands in for the month only while it still holds:
- the comparison with the month before: the same rules (every rule and engine setting, by digest),
  the same suppressions in force, and no event of the month, or of the lookback before it that the
  rules read, appended to the log since the review began (auditor.audit.blocks.appended_since);
- the trend's count of accesses: the same access actions, and no event of the month appended since.
Otherwise the month is judged (or counted) again under today's rules, as before.

What a kept review does not follow is the context the rules read (the patients and their flags, the
workforce, encounters, care teams, orders, appointments and documents) as it changed after the
review: the comparison is then the month as its review found it, and the report says so, with the
day of that review. Nor is it used by a report whose verification of the log or of its rows fails:
that report judges and counts again. The figures are kept through the
gateway (audited, in the ledger), so one edited behind it is named by `audit verify` and by the
report's own verification of the log and the rows it vouches for."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import datetime

from auditor import __version__
from auditor.audit.blocks import appended_since
from auditor.home import Vault
from auditor.policy.frames import Period
from auditor.policy.rules import Policy
from auditor.policy.suppressions import ActiveSuppression
from auditor.reporting.monthly import PreviousMonth
from auditor.review.glance import REVIEWED, read_setting

_JUDGED = ("users", "patients", "findings", "rules", "suppressions", "access_actions", "log_size", "reads_from_us",
           "zone")


def _digest(doc) -> str:  # kept in vault_settings.value, 512 characters at most
    def plain(value):
        return sorted(value) if isinstance(value, (set, frozenset)) else str(value)
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=plain).encode()).hexdigest()[:32]  # 128 bits


def rules_digest(policy: Policy) -> str:
    """Every rule (status, parameters, text) and engine setting, and the auditor's version (its
    detectors), as one digest; not where the rule files lie."""
    doc = asdict(policy)
    for rule in doc["rules"].values():
        rule.pop("path", None)
        rule.pop("site_path", None)
    return _digest([__version__, doc])


def suppressions_digest(suppressions: list[ActiveSuppression]) -> str:
    return _digest(sorted((s.id, s.rule, s.user_id, s.patient_id, s.expires_on.isoformat()) for s in suppressions))


def log_size(vault: Vault) -> int:
    """How many events the log held at least, before a review's rules read it: the size of its latest
    checkpoint whose signature verifies (0: none). Every command that appends ends with one, and no
    database writer can raise it (the log's head row could be raised while the rules read and put back
    after, hiding the events appended later from appended_since). What is appended after it may or may
    not be in what the rules read, and counts as appended since."""
    latest = vault.checkpoints.latest_signed(vault.keyring.signing_public_key)
    return latest.size if latest is not None else 0


def judged_under(period: Period, policy: Policy, suppressions: list[ActiveSuppression], size: int,
                 users: int, patients: int, findings: int) -> dict:
    """What record_review keeps beside a month's accesses: its other figures and what it was judged under."""
    reads_from = period.start - policy.lookback()
    return {"users": users, "patients": patients, "findings": findings, "rules": rules_digest(policy),
            "suppressions": suppressions_digest(suppressions),
            "access_actions": _digest(policy.settings.access_actions), "log_size": size,
            "reads_from_us": int(reads_from.value // 1000), "zone": period.tz.key}  # the month's bounds


_NUMBERS = ("accesses", "users", "patients", "findings", "log_size", "reads_from_us")


def _kept(vault: Vault, period: Period) -> dict | None:
    """The month's kept review, when it holds what this module keeps, each of the right kind (a value
    edited into something else behind the gateway is no review: the month is judged again, and the
    report's verification names the row)."""
    try:
        doc = read_setting(vault, REVIEWED.format(month=period.first_day.strftime("%Y-%m")))
    except ValueError:  # not JSON
        return None
    if not isinstance(doc, dict) or not all(key in doc for key in _JUDGED):  # reviewed before these were kept
        return None
    share, at = doc.get("explained_share"), doc.get("at")
    if (not all(type(doc[key]) is int for key in _NUMBERS) or not isinstance(at, str)
            or not (share is None or type(share) in (int, float))):
        return None
    try:
        datetime.fromisoformat(at)
    except ValueError:
        return None
    return doc if doc["zone"] == period.tz.key else None  # the month's days were another zone's


def _untouched(vault: Vault, doc: dict, first_us: int, period: Period) -> bool:
    with vault.records.connect() as conn:
        return not appended_since(conn, int(doc["log_size"]), first_us, int(period.end.value // 1000),
                                  vault.keyring.log_mac_key)


def month_as_reviewed(vault: Vault, period: Period, policy: Policy,
                      suppressions: list[ActiveSuppression]) -> PreviousMonth | None:
    """The whole month `period` as its last review found it, when that stands for judging it again now
    under `policy` and `suppressions`; None when it does not (or the month was never reviewed so)."""
    doc = _kept(vault, period)
    if doc is None or doc["rules"] != rules_digest(policy) or doc["suppressions"] != suppressions_digest(suppressions):
        return None
    if not _untouched(vault, doc, int(doc["reads_from_us"]), period):
        return None
    return PreviousMonth(period, int(doc["accesses"]), int(doc["users"]), int(doc["patients"]), doc["explained_share"],
                     int(doc["findings"]), datetime.fromisoformat(doc["at"]).astimezone(period.tz))


def accesses_as_reviewed(vault: Vault, period: Period, policy: Policy) -> int | None:
    """The month's patient accesses as its last review counted them, when no event of it was appended
    since and the same actions count as accesses; None otherwise (count them from the log)."""
    doc = _kept(vault, period)
    if doc is None or doc["access_actions"] != _digest(policy.settings.access_actions):
        return None
    return int(doc["accesses"]) if _untouched(vault, doc, int(period.start.value // 1000), period) else None
