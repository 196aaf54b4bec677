"""An attacker with write access to the database who wants a snooped chart ranked as an expected gap
(auditor.policy.findings: risk 5-19) must make the patient look "in the organisation's care" then:
add an encounter, an order or an appointment behind the gateway. `audit verify` names each such row,
and the finding itself stays reported either way (only its place in the queue would move)."""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import records_db
from tests.adversarial.test_audit_log import verify

# a copy of an existing row, under a new id and source id: whatever patient and window it names
ADDED = {
    "encounters": "INSERT INTO encounters (id, source, source_id, patient_id, department, attending_id, type, start, \"end\") "
                  "SELECT max(id) + 1, source, source_id || '-x', patient_id, department, attending_id, type, start, \"end\" "
                  "FROM encounters",
    "orders": "INSERT INTO orders (id, source, source_id, patient_id, ordering_id, performing_department, type, placed_at, "
              "completed_at) SELECT max(id) + 1, source, source_id || '-x', patient_id, ordering_id, "
              "performing_department, type, placed_at, completed_at FROM orders",
    "appointments": "INSERT INTO appointments (id, source, source_id, patient_id, provider_id, department, status, "
                    "booked_at, scheduled_for) SELECT max(id) + 1, source, source_id || '-x', patient_id, provider_id, "
                    "department, status, booked_at, scheduled_for FROM appointments",
}


@pytest.mark.parametrize("table", sorted(ADDED))
def test_a_row_added_to_put_a_patient_in_care_is_named_by_audit_verify(attacked_home, auditor, table):
    with records_db(attacked_home) as conn:
        assert conn.execute(ADDED[table]).rowcount == 1
    checked = verify(auditor)
    assert checked.code == 1
    assert f"row-inserted: {table} row" in checked.out
    assert "TAMPERED" not in checked.out  # the log itself is intact: a row was added
