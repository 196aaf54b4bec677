"""Many reads of one kind in a unit of work (a report's MRNs, a retention plan's birth dates) are
recorded as one block of events from AS_BLOCK_FROM reads on: the same events, value for value and leaf
for leaf, as one AuditEvent each, and the log verifies."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import func, select

from auditor.audit.events import CANONICAL_COLUMNS
from auditor.audit.schema import AuditEventRow
from auditor.cluster.month_export import stored_in_sequence
from auditor.home import create_home
from auditor.review.audit_log import verify_audit_log
from auditor.vault.gateway.directory import ReportDirectory
from auditor.vault.gateway.recording import AS_BLOCK_FROM
from tests.conftest import FAST_SCRYPT


def _stored(vault) -> list[dict]:
    with vault.records.connect() as conn:
        tables = list(stored_in_sequence(conn, (0, 2**62), vault.keyring.log_mac_key))
    table = pa.concat_tables(tables) if tables else None
    return table.select([*CANONICAL_COLUMNS, "leaf"]).to_pylist()


def _rows(vault) -> int:
    """Events stored one row each (not in a block)."""
    with vault.records.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditEventRow)).scalar_one()


def logged_both_ways(tmp_path, clock, n: int, record) -> tuple[list[dict], list[dict]]:
    """The last n events of two new vaults' logs, after `record(vault, together)` recorded them one by
    one in the first and together in the second: stored as rows below AS_BLOCK_FROM, as one block
    from there on (asserted), and each log verifies."""
    logs = []
    for together in (False, True):
        vault = create_home(tmp_path / ("together" if together else "each"), clock=clock, scrypt_n=FAST_SCRYPT)
        try:
            before = _rows(vault)
            record(vault, together)
            logs.append(_stored(vault))
            as_rows = _rows(vault) - before
            assert verify_audit_log(vault).result.ok
        finally:
            vault.close()
        if together:
            assert as_rows == (n if n < AS_BLOCK_FROM else 0)  # a block from AS_BLOCK_FROM on
    each, together = logs
    assert len(each) == len(together) > n  # the vault's own events at its creation before them
    return each[-n:], together[-n:]


@pytest.mark.parametrize("n", [3, AS_BLOCK_FROM, 500])
@pytest.mark.parametrize("kind", ["patients", "records"])
def test_reads_recorded_together_are_the_events_recorded_one_by_one(tmp_path, clock, n, kind):
    ids = [1000 + 7 * i for i in range(n)]

    def one_by_one(change):
        for i in ids:
            if kind == "patients":
                change.record("demographics", None, "MRN for a report", patient_id=i, fields=("mrn",))
            else:
                change.record("workforce", f"u{i}", "display name for a report", fields=("first_name", "last_name"))

    def together(change):
        if kind == "patients":
            change.record_each("demographics", "MRN for a report", patient_ids=ids, fields=("mrn",))
        else:
            change.record_each("workforce", "display name for a report", record_ids=[f"u{i}" for i in ids],
                               fields=("first_name", "last_name"))

    each, together_ = logged_both_ways(tmp_path, clock, n, lambda vault, at_once: ReportDirectory(vault.gateway).change(
        "view", together if at_once else one_by_one))
    assert together_ == each  # every stored value, and the leaf hash over them
    assert {e["patient_id"] if kind == "patients" else e["record_id"] for e in each[-n:]} == set(
        ids if kind == "patients" else (f"u{i}" for i in ids))


def test_one_kind_of_key_at_a_time(sqlite_vault):
    with pytest.raises(ValueError, match="patient_ids or record_ids"):
        ReportDirectory(sqlite_vault.gateway).change("view", lambda change: change.record_each(
            "demographics", "x", patient_ids=[1], record_ids=["a"]))
