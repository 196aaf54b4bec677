"""Patient accesses per period, counted straight from the audit log as the engine counts its accesses
(successful, of a patient, an access action, by a workforce account: no service work), for a report's
trend over months the engine is not run on."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, case, func, or_, select

from auditor.audit import blocks
from auditor.audit.schema import AuditEventRow as E
from auditor.database import read_snapshot
from auditor.policy.frames import Period
from auditor.policy.rules import Policy
from auditor.vault.gateway.context import OWN_SOURCE, SERVICE_ROLE


def accesses_by_period(records: Engine, periods: list[Period], policy: Policy, log_key: bytes) -> list[int]:
    """Accesses in each of `periods`, counted in SQL in one pass over the rows of the log (it has no
    index on time alone), and in one pass over the blocks of imported events that reach the periods
    (their headers checked with the log's key)."""
    bounds = [(int(p.start.value // 1000), int(p.end.value // 1000)) for p in periods]
    index = case(*[((E.at_us >= lo) & (E.at_us < hi), i) for i, (lo, hi) in enumerate(bounds)], else_=None)
    stmt = (select(index, func.count())
            .where(E.at_us >= min(lo for lo, _ in bounds), E.at_us < max(hi for _, hi in bounds),
                   E.outcome == "success", E.patient_id.is_not(None),
                   E.action.in_(sorted(policy.settings.access_actions)), E.user_id.is_not(None),
                   or_(E.source != OWN_SOURCE, E.role.is_(None), E.role != SERVICE_ROLE))  # not service work
            .group_by(index))
    counted: Counter = Counter()
    with records.connect() as conn:
        read_snapshot(conn)
        counted.update({i: int(n) for i, n in conn.execute(stmt) if i is not None})
        lows = np.array([lo for lo, _ in bounds], dtype=np.int64)
        highs = np.array([hi for _, hi in bounds], dtype=np.int64)
        actions = pa.array(sorted(policy.settings.access_actions), pa.string())
        for t in blocks.events_between(conn, int(lows.min()), int(highs.max()), log_key):  # the same test, on blocks
            service = pc.and_(pc.equal(t["source"], OWN_SOURCE), pc.fill_null(pc.equal(t["role"], SERVICE_ROLE), False))
            counted_here = pc.and_(pc.and_(pc.equal(t["outcome"], "success"), pc.is_valid(t["patient_id"])),
                                   pc.and_(pc.is_in(t["action"], value_set=actions),
                                           pc.and_(pc.is_valid(t["user_id"]), pc.invert(service))))
            at = t["at_us"].filter(counted_here).to_numpy()
            period_of = np.searchsorted(lows, at, side="right") - 1
            inside = (period_of >= 0) & (at < highs[np.clip(period_of, 0, None)])
            counted.update(Counter(period_of[inside].tolist()))
    return [counted.get(i, 0) for i in range(len(periods))]
