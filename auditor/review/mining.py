"""Proposed explanations, never silent ones (issue 18, section 2): `auditor explain mine` measures the
candidate templates of auditor.policy.templates over a period, and `auditor explain approve` puts one
an officer chose into the site's policy folder, after which it explains accesses.

Each proposal says what it would buy and what it would cost: its support (how many of the period's
unexplained accesses it would explain) and its risk (how many events the rules flag today, and, given
a simulation's labels, how many labelled violations, it would explain away). Mining reads the log as a
review does (ids only, nothing decrypted) and is recorded as one audit event of the casework desk
naming the officer; an approval is one audit event, and the site file is written in the same unit of
work (both or neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from auditor.errors import InputError
from auditor.home import Vault
from auditor.policy import engine
from auditor.policy.explanations import CLINICAL, template_explains
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy
from auditor.policy.templates import SITE_FILE, Template, candidates, parse_id, read_approved
from auditor.policy.validation import PolicyFile
from auditor.vault.gateway.casework import Casework, CaseworkChange


@dataclass(frozen=True)
class Proposal:
    template: Template
    explains: int  # unexplained accesses of the period it would explain
    support: float  # ... as a share of the unexplained accesses
    flagged: int  # events the rules flag today that it would explain away
    labelled: int | None  # labelled violations it would explain away (None: no labels given)

    def to_dict(self) -> dict:
        return {"id": self.template.id, "kind": self.template.kind, "parameters": dict(self.template.parameters),
                "explains": self.template.sentence, "unexplained_explained": self.explains,
                "support": round(self.support, 4), "flagged_events_explained_away": self.flagged,
                "labelled_violations_explained_away": self.labelled}


@dataclass(frozen=True)
class Mining:
    period: Period
    accesses: int
    unexplained: int
    proposals: list[Proposal]  # most support first
    approved: list[str]  # ids already approved (not proposed again)


def mine(vault: Vault, period: Period, policy: Policy, by: str, labels: pd.DataFrame | None = None) -> Mining:
    """The candidate templates not yet approved, measured over `period` as `by` (the signed-in officer)."""
    frames = load_frames(vault.records, period, policy.lookback(), log_key=vault.keyring.log_mac_key)
    detection = engine.run(frames, policy)
    accesses = detection.context.accesses
    ex = policy.settings.explanations
    first = accesses["explained_by"].cat.codes.to_numpy()
    clinically = (first >= 0) & (first < len(CLINICAL))
    plain = ~accesses["record_type"].isin(ex.sensitive_record_types).to_numpy(dtype=bool)
    open_ = np.flatnonzero(~accesses["explained"].to_numpy(dtype=bool) & plain)
    unexplained = int((~accesses["explained"].to_numpy(dtype=bool)).sum())
    claiming = set(policy.settings.precedence) - {"self-access"}  # the rules that take unexplained accesses
    hits = detection.hits
    flagged = set(hits.loc[hits["rule"].isin(claiming), "event"])
    refs = accesses["event_ref"].to_numpy(dtype=object)
    violations = None if labels is None else set(  # the injected violations, not the residue of normal work
        labels.loc[labels["rule"].isin(claiming) & labels["injected"], "event_id"])
    approved = [a.template.id for a in ex.approved]
    proposals = []
    for template in candidates():
        if template.id in approved or not len(open_):
            continue
        hit = open_[template_explains(template, accesses, frames.workforce, frames.encounters, frames.care_team,
                                      clinically, open_)]
        index = accesses.index.to_numpy()[hit]
        proposals.append(Proposal(template, len(hit), len(hit) / unexplained if unexplained else 0.0,
                                  sum(1 for e in index if e in flagged),
                                  None if violations is None else sum(1 for r in refs[hit] if r in violations)))
    proposals.sort(key=lambda p: (-p.explains, p.flagged, p.template.id))
    Casework(vault.gateway).change("view", lambda change: change.record(
        "explanation_templates", period.first_day.isoformat(),
        f"{len(proposals)} explanation template(s) measured over {period.first_day} to {period.last_day} by {by}"))
    return Mining(period, len(accesses), unexplained, proposals, approved)


def approve(vault: Vault, template_id: str, site_dir: Path, by: str, today: date) -> Template:
    """Add the template to the site's explanations.yaml, approved by `by` today: written with its
    audit event, or neither. Refused (InputError) for an unknown or already approved template, or a
    site file that does not lint."""
    try:
        template = parse_id(template_id)
    except ValueError as exc:
        raise InputError(f"{template_id!r}: {exc}") from None
    site_dir = Path(site_dir)
    if not site_dir.is_dir():
        raise InputError(f"{site_dir} is not a folder of site policies")
    path = site_dir / SITE_FILE
    doc: dict = {"approved": []}
    if path.exists():
        f = PolicyFile.read(path)
        held = read_approved(f) if not f.problems else ()
        if f.problems:
            raise InputError(f"{f.problems[0]}; run: auditor policy lint --site-policies {site_dir}")
        if any(a.template == template for a in held):
            raise InputError(f"{template.id} is already approved in {path}")
        doc = f.data or {"approved": []}
        doc.setdefault("approved", [])
    entry = {"id": template.id, "kind": template.kind, "parameters": dict(template.parameters),
             "approved_by": by, "approved_on": today.isoformat()}
    doc["approved"].append(entry)
    text = ("# Explanation templates a privacy officer approved (auditor explain approve): each explains accesses\n"
            "# from its approval on; auditor policy lint checks this file. See auditor/policy/templates.py.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))

    def work(change: CaseworkChange) -> None:
        change.stage(site_dir, {SITE_FILE: text})
        change.record("explanation_template", template.id, f"explanation template {template.id} approved by {by}")

    Casework(vault.gateway).change("create", work)
    return template
