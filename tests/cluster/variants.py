"""Months hypothesis makes from the simulated one, and exports of them that the vault signs as it signs
its own: what the partitioned and Spark engines are compared with the local engine on. Also a
manifest changed and signed again with the vault's own key (what a bug in an exporter would write,
not an outsider: an outsider's key is refused before anything is read)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auditor.audit import merkle
from auditor.audit.canonical_columns import leaf_inputs
from auditor.cluster.month_export import EVENT_SCHEMA, days_root, local_days, signed_message
from auditor.cluster.month_input import open_export
from auditor.home import Vault


def variant(events: pa.Table, keep: float, ghosts: int, flips: int, seed: int) -> pa.Table:
    """`events` (any columns among them user_id and role) with a share `keep` of them kept, `ghosts` members'
    accounts renamed to accounts the workforce file does not know (their events then carry two roles
    between them, or none), and the carried role of `flips` events changed."""
    rng = np.random.default_rng(seed)
    table = events.filter(pa.array(rng.random(events.num_rows) < keep))
    users = np.array(table["user_id"].to_pylist(), dtype=object)
    roles = np.array(table["role"].to_pylist(), dtype=object)
    known = sorted({u for u in users if u is not None})
    choices = sorted({r for r in roles if r is not None}) + [None]
    for i, member in enumerate(rng.choice(known, size=min(ghosts, len(known)), replace=False)):
        mine = np.flatnonzero(users == member)
        users[mine] = f"ghost-{i}"  # an account the workforce file does not know, its events in two roles
        roles[mine] = rng.choice(np.array(rng.choice(choices, size=2), dtype=object), size=len(mine))
    flipped = rng.choice(table.num_rows, size=min(flips, table.num_rows), replace=False)
    roles[flipped] = rng.choice(np.array(choices, dtype=object), size=len(flipped))  # known members: their file's role
    table = table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(users, pa.string()))
    return table.set_column(table.schema.get_field_index("role"), "role", pa.array(roles, pa.string()))


def sign_again(folder: Path, home: Path, change: Callable[[dict], None]) -> None:
    """The manifest of the export at `folder` changed by `change` (the document, without its signature)
    and signed again with the key of the vault at `home`."""
    document = json.loads((folder / "manifest.json").read_text())
    document.pop("signature")
    change(document)
    vault = Vault.open(home)
    try:
        document["signature"] = vault.keyring.signing_key.sign(signed_message(document)).hex()
    finally:
        vault.close()
    (folder / "manifest.json").write_text(json.dumps(document))


def exported_variant(source: Path, key: bytes, home: Path, events: pa.Table, folder: Path) -> Path:
    """The export at `source` (of the vault at `home`, whose public key is `key`) with `events` (its events' columns, EVENT_SCHEMA) as
    its events, at `folder`: each local day's file, count, first and last sequence numbers and Merkle
    root written as auditor.cluster.month_export writes them, the days' root over them, and the
    manifest signed by the vault. The context and the log's checkpoint are the source's."""
    period = open_export(source, key).period
    shutil.copytree(source, folder, ignore=lambda at, names: ["events"] if Path(at) == Path(source) else [])
    events = events.cast(EVENT_SCHEMA)
    events = events.take(pc.sort_indices(events["seq"]))
    day_of = local_days(events["at_us"], period)
    days = []
    for day in np.unique(day_of):
        table = events.take(np.flatnonzero(day_of == day))
        name = str(day)
        path = folder / "events" / f"day={name}" / "part-0.parquet"
        path.parent.mkdir(mode=0o700, parents=True)
        pq.write_table(table, path, compression="zstd")
        frontier = merkle.Frontier()
        frontier.extend([hashlib.sha256(data).digest() for data in leaf_inputs(table)])
        days.append({"day": name, "file": f"events/day={name}/part-0.parquet", "events": table.num_rows,
                     "first_seq": table["seq"][0].as_py(), "last_seq": table["seq"][-1].as_py(),
                     "root": frontier.root().hex()})

    def with_these_days(document: dict) -> None:
        document["events"].update(count=events.num_rows, days=days, root=days_root(days).hex())
    sign_again(folder, home, with_these_days)
    return folder

