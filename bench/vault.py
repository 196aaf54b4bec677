"""Vault benchmark (issue 2): what encryption, the audited gateway and the tamper-evident log cost.

    python bench/vault.py [--patients N] [--batch B] [--events E]

For N patients with 6 encrypted fields (MRN, first and last name, birth date, street address, phone):

* insert and full decrypt-read through the gateway (audit events included: one per patient), against
  - plain SQLAlchemy ORM on the same columns in the clear (the floor: no encryption, no audit), and
  - sqlalchemy-utils StringEncryptedType with AesGcmEngine (the common peer: encryption, no audit),
  each on its own SQLite file with the same engine settings, each batch of B rows in one transaction;
* audit append throughput, batched (E events, B per transaction) and one event per transaction;
* verify throughput over the whole log (every event the run wrote);
* the time to rotate the key-encryption key over all data keys (N + 1).

Not a timed test: it prints a table and, last, one JSON line of figures. Targets (issue 2, on the
2-core machine): audited read <= 3x plain ORM and faster than sqlalchemy-utils; batched append
>= 20,000 events/s on SQLite; verify >= 200,000 events/s; rotation of 100,000 keys < 30 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Date, String, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from auditor import database
from auditor.audit.events import AuditEvent
from auditor.vault.integrity import verify_vault
from auditor.home import Vault, create_home
from auditor.vault.gateway import AccessContext, PatientDemographics

FIELDS = ("mrn", "first_name", "last_name", "birth_date", "address_line", "phone")
FIRST = ["Ana", "Bo", "Chen", "Dmitri", "Eve", "Fatima", "Gus", "Hana", "Ivan", "José", "Kai", "Lena", "Mo", "Nia"]
LAST = ["Smith", "Nguyen", "García", "O'Brien", "Müller", "Kowalski", "Okafor", "Haddad", "Tanaka", "Silva"]
STREETS = ["Main Street", "Elm Rd", "Oak Avenue", "Hill Lane", "River Dr", "Park Blvd"]


# -- the synthetic population ---------------------------------------------------------------------------
def population(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        born = date(1930, 1, 1) + timedelta(days=rnd.randrange(33_000))
        out.append({
            "id": i + 1, "mrn": f"MRN{i + 1:09d}", "first_name": rnd.choice(FIRST), "last_name": rnd.choice(LAST),
            "birth_date": born.isoformat(), "address_line": f"{rnd.randrange(1, 9999)} {rnd.choice(STREETS)}",
            "phone": f"(617) 555-{rnd.randrange(10_000):04d}",
        })
    return out


def chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- the two baselines: same columns, same engine settings ----------------------------------------------
class PlainBase(DeclarativeBase):
    pass


class EncBase(DeclarativeBase):
    pass


class Flags:
    """The clear-text columns the vault's patients table also has."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    deceased_on: Mapped[date | None] = mapped_column(Date)


class PlainPatient(Flags, PlainBase):
    __tablename__ = "patients"
    mrn: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[str] = mapped_column(String(200))
    address_line: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(200))


def encrypted_model(key: str):
    """sqlalchemy-utils' encrypted string type, AES-GCM engine (its strongest), on the same columns."""
    from sqlalchemy_utils import StringEncryptedType
    from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine

    def sealed():
        return mapped_column(StringEncryptedType(String, key, AesGcmEngine))

    class EncryptedPatient(Flags, EncBase):
        __tablename__ = "patients"
        mrn: Mapped[str] = sealed()
        first_name: Mapped[str] = sealed()
        last_name: Mapped[str] = sealed()
        birth_date: Mapped[str] = sealed()
        address_line: Mapped[str] = sealed()
        phone: Mapped[str] = sealed()

    return EncryptedPatient


def orm_insert(engine, model, people: list[dict], batch: int) -> float:
    start = time.perf_counter()
    for part in chunks(people, batch):
        with Session(engine) as s, s.begin():
            s.execute(insert(model), [{**p, "vip": False, "restricted": False} for p in part])
    return time.perf_counter() - start


def orm_read(engine, model, ids: list[int], batch: int) -> tuple[float, int]:
    start = time.perf_counter()
    seen = 0
    for part in chunks(ids, batch):
        with Session(engine) as s:
            for obj in s.scalars(select(model).where(model.id.in_(part))):
                seen += all(getattr(obj, f) is not None for f in FIELDS)
    return time.perf_counter() - start, seen


# -- the vault -----------------------------------------------------------------------------------------
def gateway_insert(vault: Vault, people: list[dict], batch: int) -> tuple[float, dict[str, int]]:
    svc = AccessContext.service("import")
    ids: dict[str, int] = {}
    start = time.perf_counter()
    for part in chunks(people, batch):
        reg = vault.gateway.register_patients(svc, [PatientDemographics(**{f: p[f] for f in FIELDS}) for p in part])
        ids.update(reg.ids)
    return time.perf_counter() - start, ids


def gateway_read(vault: Vault, ids: list[int], batch: int) -> tuple[float, int]:
    svc = AccessContext.service("report")
    start = time.perf_counter()
    seen = 0
    for part in chunks(ids, batch):
        for p in vault.gateway.read_patients(svc, part).values():
            seen += all(getattr(p, f) is not None for f in FIELDS)
    return time.perf_counter() - start, seen


def audit_events(n: int, patient_ids: list[int], seed: int = 11) -> list[AuditEvent]:
    rnd = random.Random(seed)
    at = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
    users = [(f"user{u:05d}", rnd.choice(["physician", "nurse", "registration", "billing"])) for u in range(2000)]
    events = []
    for i in range(n):
        user, role = rnd.choice(users)
        glass = rnd.random() < 0.002
        events.append(AuditEvent(
            at=at + timedelta(milliseconds=37 * i), action=rnd.choice(["view", "view", "view", "update", "print"]),
            user_id=user, role=role, patient_id=rnd.choice(patient_ids), record_type="chart",
            fields=("demographics", "note"), purpose="TREAT", break_glass=glass,
            reason="patient in cardiac arrest" if glass else None, workstation=f"WS-{rnd.randrange(400):03d}",
        ))
    return events


def append(vault: Vault, events: list[AuditEvent], batch: int) -> float:
    log = vault.audit_log
    start = time.perf_counter()
    for part in chunks(events, batch):
        with vault.records.begin() as conn:
            appended = log.append(conn, part)
        log.after_commit(appended, len(part))
        vault.envelope.flush_usage()
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000, help="rows or events per transaction")
    parser.add_argument("--events", type=int, default=200_000, help="audit events for the append benchmark")
    parser.add_argument("--workdir", type=Path, help="keep the databases here (default: a temporary folder)")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="auditor-bench-")
    work = args.workdir or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    people = population(args.patients)
    fig: dict[str, float | int | str] = {"patients": args.patients, "batch": args.batch, "backend": "sqlite"}
    rows: list[tuple[str, str, str]] = []

    def row(what: str, seconds: float, count: int, unit: str) -> float:
        rate = count / seconds if seconds else float("inf")
        rows.append((what, f"{seconds:8.2f} s", f"{rate:12,.0f} {unit}/s"))
        return rate

    print(f"auditor vault benchmark: {args.patients:,} patients, 6 encrypted fields, batches of {args.batch:,}",
          file=sys.stderr, flush=True)

    # baselines
    Plain, Encrypted = PlainPatient, encrypted_model("benchmark-key-" + "k" * 18)
    plain_engine = database.connect(f"sqlite:///{work / 'plain.db'}", must_exist=False)
    enc_engine = database.connect(f"sqlite:///{work / 'sqlalchemy_utils.db'}", must_exist=False)
    PlainBase.metadata.create_all(plain_engine)
    EncBase.metadata.create_all(enc_engine)
    ids_plain = [p["id"] for p in people]

    t = orm_insert(plain_engine, Plain, people, args.batch)
    fig["plain_insert_per_s"] = row("insert: plain SQLAlchemy ORM", t, len(people), "patients")
    t = orm_insert(enc_engine, Encrypted, people, args.batch)
    fig["sau_insert_per_s"] = row("insert: sqlalchemy-utils AesGcmEngine", t, len(people), "patients")

    # the vault
    home = work / "home"
    vault = create_home(home)
    t, ids = gateway_insert(vault, people, args.batch)
    fig["gateway_insert_per_s"] = row("insert: auditor gateway (+ audit)", t, len(people), "patients")
    vault.close()

    gc.collect()
    plain_read, n = orm_read(plain_engine, Plain, ids_plain, args.batch)
    assert n == len(people)
    fig["plain_read_s"] = plain_read
    row("read: plain SQLAlchemy ORM", plain_read, n, "patients")
    sau_read, n = orm_read(enc_engine, Encrypted, ids_plain, args.batch)
    assert n == len(people)
    fig["sau_read_s"] = sau_read
    row("read: sqlalchemy-utils AesGcmEngine", sau_read, n, "patients")

    vault = Vault.open(home)  # a new process's view: no data key cached
    vault_ids = list(ids.values())
    random.Random(3).shuffle(vault_ids)  # ids are random anyway; reading order is not insertion order
    gw_read, n = gateway_read(vault, vault_ids, args.batch)
    assert n == len(people), n
    fig["gateway_read_s"] = gw_read
    row("read: auditor gateway (decrypt + audit)", gw_read, n, "patients")

    events = audit_events(args.events, vault_ids)
    t = append(vault, events, args.batch)
    fig["append_batched_per_s"] = row(f"audit append, {args.batch:,} per transaction", t, len(events), "events")
    single = events[: min(2_000, len(events))]
    t = append(vault, single, 1)
    fig["append_single_per_s"] = row("audit append, 1 per transaction", t, len(single), "events")

    start = time.perf_counter()
    result = verify_vault(vault.records, vault.keyring, [vault.checkpoints.path])
    t = time.perf_counter() - start
    assert result.ok, result.problems
    fig["log_size"] = result.size
    fig["verify_per_s"] = row(f"audit verify ({result.size:,} events)", t, result.size, "events")

    keys = vault.envelope.counts()["live"]
    start = time.perf_counter()
    done = vault.rotate_keys()
    t = time.perf_counter() - start
    assert done.rewrapped == keys and not done.still_active
    fig["rotated_keys"] = keys
    fig["rotate_s"] = t
    row(f"rotate KEK ({keys:,} data keys)", t, keys, "keys")
    vault.close()

    fig["read_vs_plain"] = gw_read / plain_read
    fig["read_vs_sqlalchemy_utils"] = gw_read / sau_read
    fig["peak_rss_mb"] = peak_rss_mb()
    def size_mb(db: Path) -> float:  # the database file and its write-ahead log
        return round(sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20, 1)

    fig["db_mb"] = {"plain": size_mb(work / "plain.db"), "sqlalchemy_utils": size_mb(work / "sqlalchemy_utils.db"),
                    "vault_records": size_mb(home / "records.db"), "vault_keystore": size_mb(home / "keystore.db")}

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'time':>10}  {'throughput':>20}")
    for what, secs, rate in rows:
        print(f"{what:<{width}}  {secs:>10}  {rate:>20}")
    print()
    print(f"audited read vs plain ORM:          {fig['read_vs_plain']:.2f}x   (target <= 3x)")
    print(f"audited read vs sqlalchemy-utils:   {fig['read_vs_sqlalchemy_utils']:.2f}x   (target < 1x)")
    print(f"batched append:                     {fig['append_batched_per_s']:,.0f}/s (target >= 20,000/s)")
    print(f"verify:                             {fig['verify_per_s']:,.0f}/s (target >= 200,000/s)")
    print(f"rotation of {keys:,} keys:          {fig['rotate_s']:.1f} s (target < 30 s for 100,000)")
    print(f"peak RSS:                           {fig['peak_rss_mb']:.0f} MB")
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in fig.items()}))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
