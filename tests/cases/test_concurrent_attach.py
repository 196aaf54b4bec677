"""Two `auditor findings` at once put their findings into cases together: one waits for the other,
so a member never has two cases open at once, and a finding both runs found goes into one case once.
Each run is a thread with a vault of its own (its own engine and connections), started together."""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import func, select

from auditor.cases.attach import attach_findings
from auditor.cases.workflow import CLOSED
from auditor.home import Vault
from auditor.policy.findings import Finding
from auditor.vault.gateway.casework import Casework
from auditor.vault.records import Case, CaseFinding

USERS = ["u.one", "u.two", "u.three"]
ROUNDS = 8  # each round races on members none of the rounds before had


def _findings(users: list[str], events: list[str]) -> list[Finding]:
    return [Finding(rule="after-hours", severity="medium", user_id=u, patient_id=None, mrn=None, event_ids=[e],
                    risk=45, explanation=f"{u} worked outside their shift.", first_at="2026-11-02T15:00:00+00:00",
                    last_at="2026-11-02T15:00:00+00:00") for u in users for e in events]


def _at_once(vaults: list[Vault], batches: list[list[Finding]]) -> list[BaseException]:
    """Attach each batch from its own vault, in threads released together; the errors raised."""
    start, errors = threading.Barrier(len(vaults)), []

    def attach(vault: Vault, batch: list[Finding]) -> None:
        casework = Casework(vault.gateway)
        start.wait()
        try:
            attach_findings(casework, batch, date(2026, 11, 1), date(2026, 11, 30))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=attach, args=pair) for pair in zip(vaults, batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def _open_cases_per_user(vault: Vault) -> dict[str, int]:
    with vault.records.connect() as conn:
        return dict(conn.execute(select(Case.user_id, func.count(Case.id)).where(Case.status != CLOSED)
                                 .group_by(Case.user_id)).all())


def _attached(vault: Vault) -> list[tuple[str, str]]:
    with vault.records.connect() as conn:
        return sorted(conn.execute(select(Case.user_id, CaseFinding.event_ids)
                                   .join(Case, Case.id == CaseFinding.case_id)).all())


def test_two_runs_at_once_never_open_two_cases_for_one_member(vault, clock):
    other = Vault.open(vault.home, clock=clock)
    try:
        for n in range(ROUNDS):
            users = [f"{u}.{n}" for u in USERS]
            # different findings of the same members (two periods, say), then the same findings twice
            assert _at_once([vault, other], [_findings(users, [f"a{n}"]), _findings(users, [f"b{n}"])]) == []
            assert _open_cases_per_user(vault) == {u: 1 for r in range(n + 1) for u in (f"{x}.{r}" for x in USERS)}
            assert _at_once([vault, other], [_findings(users, [f"c{n}"]), _findings(users, [f"c{n}"])]) == []
        want = sorted((f"{u}.{n}", f'["{e}{n}"]') for n in range(ROUNDS) for u in USERS for e in "abc")
        assert _attached(vault) == want  # every finding once, in its own member's case
    finally:
        other.close()
