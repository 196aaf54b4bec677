"""One period's audit, as `auditor findings` runs it: the rules over the audit log, the findings,
the suppressions muting some (kept, marked), and the rest put into their members' cases."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.cases.attach import Attachment, attach_findings
from auditor.policy import engine
from auditor.policy.engine import Detection
from auditor.policy.findings import Finding, build_findings
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy
from auditor.policy.suppressions import active_suppressions, mute
from auditor.vault.gateway.casework import Casework
from auditor.vault.gateway.core import AccessGateway
from auditor.vault.gateway.directory import ReportDirectory


@dataclass
class PeriodFindings:
    findings: list[Finding]  # ranked; muted ones included
    detection: Detection
    muted: int
    attachment: Attachment


def audit_period(gateway: AccessGateway, period: Period, policy: Policy) -> PeriodFindings:
    detection = engine.run(load_frames(gateway.records, period, policy.lookback(), log_key=gateway.audit_log.keyring.log_mac_key), policy)
    found = build_findings(detection, policy, ReportDirectory(gateway))
    muted = mute(found, active_suppressions(gateway.records), period.tz)
    attachment = attach_findings(Casework(gateway), found, period.first_day, period.last_day)
    return PeriodFindings(found, detection, muted, attachment)
