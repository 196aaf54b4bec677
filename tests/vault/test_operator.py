"""The operating-system account that runs a command is stamped on every audit event the gateway
writes in that process ("os:<account>@<host>", a typed workstation kept after it, within the column's
128 characters); a library caller without an operator writes the workstation it gives, as before."""

from __future__ import annotations

import os
import pwd
import socket

from sqlalchemy import select

from auditor.audit.schema import AuditEventRow
from auditor.home import Vault
from auditor.vault.gateway import AccessContext
from auditor.vault.gateway.context import Operator


def _workstations(vault, user_id: str) -> list[str | None]:
    with vault.records.connect() as conn:
        return list(conn.scalars(select(AuditEventRow.workstation).where(AuditEventRow.user_id == user_id)
                                 .order_by(AuditEventRow.seq)))


def test_the_operator_is_stamped_before_the_typed_workstation_within_128_characters(population):
    operated = Vault.open(population.home, clock=population.clock, operator=Operator("alice", "records-7"))
    try:
        operated.gateway.read_chart(AccessContext("dr.house", "TREAT"), "MRN-1")
        operated.gateway.read_chart(AccessContext("dr.house", "TREAT", workstation="WS-9"), "MRN-1")
        operated.gateway.read_chart(AccessContext("dr.house", "TREAT", workstation="W" * 300), "MRN-1")
        operated.gateway.search_patients(AccessContext.service("report"), mrn="MRN-1")  # service work too
    finally:
        operated.close()
    population.gateway.read_chart(AccessContext("dr.house", "TREAT", workstation="WS-9"), "MRN-1")  # no operator
    plain, typed, long, unstamped = _workstations(population, "dr.house")
    assert (plain, typed, unstamped) == ("os:alice@records-7", "os:alice@records-7; WS-9", "WS-9")
    assert long == ("os:alice@records-7; " + "W" * 300)[:128] and len(long) == 128
    assert _workstations(population, "svc:report") == ["os:alice@records-7"]


def test_the_operator_is_what_the_operating_system_says(monkeypatch):
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    found = Operator.of_this_process()
    assert (found.account, found.host) == (pwd.getpwuid(os.geteuid()).pw_name, socket.gethostname())
    assert Operator("a" * 40, "h" * 80).stamp == f"os:{'a' * 32}@{'h' * 64}"
