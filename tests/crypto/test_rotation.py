"""rotate_keys / Vault.rotate_keys: rewrap everything, retire the old KEK, record it in the audit log."""

from sqlalchemy import select

from auditor.audit.schema import AuditEventRow
from auditor.audit.verify import verify_log
from auditor.home import Vault
from auditor.vault.gateway import AccessContext


def test_rotation_retires_the_old_kek_and_records_stay_readable(population):
    v = population
    before = v.envelope.counts()["live"]
    done = v.rotate_keys()
    assert done.primary == 2 and done.retired == (1,) and done.still_active == ()
    assert done.rewrapped == before
    assert v.envelope.keys_under() == {2: before}
    assert [k.status for k in v.keyring.keks] == ["retired", "primary"]

    reopened = Vault.open(v.home, clock=v.clock)  # a fresh process: only the new KEK is in the keyring
    try:
        chart = reopened.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
        assert chart.demographics.last_name == "Müller"
        with reopened.records.connect() as conn:
            last = conn.execute(select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(2)).all()
        rewrap = last[1]
        assert rewrap.action == "rewrap" and rewrap.user_id == "svc:keys"
        assert f"{before} data keys rewrapped" in rewrap.detail and "retired: kek-1" in rewrap.detail
        assert verify_log(reopened.records, reopened.keyring, [reopened.checkpoints.path]).ok
    finally:
        reopened.close()


def test_a_second_rotation_rewraps_again(population):
    v = population
    v.rotate_keys()
    done = v.rotate_keys()
    assert done.primary == 3 and done.retired == (2,)
    assert set(v.envelope.keys_under()) == {3}
