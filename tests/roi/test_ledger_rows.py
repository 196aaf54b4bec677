"""The accounting of disclosures (45 CFR 164.528) is read from the disclosures ledger and the
suspensions an agency asked for: someone with write access to records.db who deletes a disclosure, or
slips in a suspension, would take entries out of the patient's accounting. Both tables are in the
ledger of trusted rows (r0020): `auditor audit verify` names each row changed behind the gateway."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from tests.roi.test_roi_cli import walk


def _verify(run):
    return run("audit", "verify", user=None)


@pytest.mark.parametrize("change, named", [
    ("delete from disclosures", "row-deleted: disclosures row 1"),
    ("update disclosures set accountable = 0", "row-edited: disclosures row 1"),
    ("insert into roi_accounting_suspensions (patient_id, agency, starts_on, ends_on, written, created_at) "
     "select patient_id, 'County Sheriff', '2026-01-01', '2099-12-31', 1, 0 from disclosures",
     "row-inserted: roi_accounting_suspensions row 1"),
])
def test_a_disclosure_taken_out_of_the_accounting_behind_the_gateway_is_named(run, form, home, tmp_path, change, named):
    walk(run, form, tmp_path, "attorney")  # one accountable disclosure of P-1
    code, out, err = _verify(run)
    assert code == 0, out + err
    with closing(sqlite3.connect(tmp_path / "home" / "records.db")) as conn:
        for (name,) in conn.execute("select name from sqlite_master where type = 'trigger'").fetchall():
            conn.execute(f"drop trigger {name}")  # append-only triggers stop no one who can write the file
        conn.execute(change)
        conn.commit()
    code, out, err = _verify(run)
    assert code == 1 and named in out, out + err


def test_a_suspension_the_desk_records_verifies(run, form, home, tmp_path):
    code, out, err = run("roi", "suspend", "--mrn", "P-1", "--agency", "County Sheriff",
                         "--from", "2026-11-01", "--to", "2026-11-20", "--written")
    assert code == 0, err
    code, out, err = _verify(run)
    assert code == 0, out + err
