"""The rule pack on Apache Spark: a month's export (auditor.cluster.month_export) checked and judged by a
cluster with the very detectors the local engine runs (auditor.policy.engine.run, unchanged).

1. Check, on the cluster. Spark reads the export's events (from any storage it reads), groups them by
   day, and each day's task recomputes its events' Merkle root (month_input.checked_day) against the
   signed manifest; a day the manifest does not list, or one that does not match, fails the job with
   ExportRefused. The checked rows are persisted on the executors and everything after reads them,
   not the export again; the driver then checks that every listed day was seen.
2. Partition by role. The rules compare a member with their peers: excessive-volume with their role
   and department, unusual-access and the risk score's peer standing with the same, or with the whole
   role when the group is small. So a partition holds whole roles: each member joins the partition of
   their effective role (the workforce file's, else what their events carry, as the local engine
   decides it), and the roles one member's events span share a partition. Each member's events and
   each peer group's members are then in one partition, and the rules find there what they find over
   the whole month.
3. Judge each partition (applyInArrow): its events and the context of the patients they touch (the
   context is broadcast once; the workforce whole, the patient-scoped tables cut to those patients)
   go through engine.run. A partition returns its hits by sequence number, the hits' events, each
   member's accesses within an hour of one of their hits (what findings and case timelines read), its
   members' peer standing and its counts of accesses and explanations, each as Arrow IPC (data, never
   pickles, crosses from the cluster to the vault's machine): a few hits' worth, not the month.
4. The driver assembles a Detection from them; findings, suppressions and cases take it as they take
   the local engine's.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditor.audit.events import CANONICAL_COLUMNS
from auditor.cluster.month_export import EVENT_SCHEMA
from auditor.cluster.month_input import (CONTEXT, ExportRefused, MonthExport, _objects, checked_day, context_table,
                                        month_frames, require_lookback)
from auditor.errors import AuditorError, ConfigurationError, InputError
from auditor.policy import engine
from auditor.policy import frames as frame_reading
from auditor.policy.context import DetectionContext
from auditor.policy.detectors import HIT_COLUMNS
from auditor.policy.engine import Detection
from auditor.policy.explanations import EXPLANATIONS
from auditor.policy.frames import Frames
from auditor.policy.peer_groups import Standing, standing
from auditor.policy.rules import Policy
from auditor.policy.typed_frames import (typed_care_team, typed_encounters, typed_patients,
                                         typed_workforce)
from auditor.reporting.activity import access_tally

Tally = Callable[[Detection], object]  # what a caller counts of each partition's Detection (JSON-able)

_ENGINE = [*frame_reading._BLOCK_COLUMNS, "has_reason"]
AROUND = timedelta(hours=1)  # the accesses kept either side of a hit: auditor.review.timeline.AROUND, a case's reach
_ENGINE_SCHEMA = pa.schema([EVENT_SCHEMA.field(c) for c in frame_reading._BLOCK_COLUMNS]
                           + [pa.field("has_reason", pa.bool_())])
CHECKED = ("seq long, at_us long, source string, source_event_id string, user_id string, role string, "
           "action string, patient_id long, record_type string, outcome string, purpose string, "
           "break_glass boolean, has_reason boolean, day string")
JUDGED = ("part int, hits binary, events binary, activity binary, accesses binary, denials binary, standing binary, "
          "judged long, explained long, explained_by string, summary string, tally string")
_JUDGED_SCHEMA = pa.schema([("part", pa.int32())] + [(n, pa.binary()) for n in ("hits", "events", "activity", "accesses",
                                                                            "denials", "standing")]
                           + [("judged", pa.int64()), ("explained", pa.int64())]
                           + [(n, pa.string()) for n in ("explained_by", "summary", "tally")])
_LOOPBACK = re.compile(r"^(local(\[[0-9*, ]+\])?|spark://(127\.0\.0\.1|localhost)(:\d+)?)$")


def spark_session(master: str, app: str = "auditor rule pack"):
    """A Spark session on `master` (local[2], spark://host:7077, yarn, k8s://...). For a master on this
    machine the driver binds to loopback only."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark: pip install 'auditor[spark]'") from None
    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.pyspark.python", sys.executable)
               .config("spark.pyspark.driver.python", sys.executable))
    if _LOOPBACK.match(master):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if master.startswith("local"):  # a few cores: a few shuffle partitions; the JVM is the executor too
        builder = builder.config("spark.sql.shuffle.partitions", "8").config("spark.driver.memory", "4g")
    return builder.getOrCreate()


def _ipc(frame: pd.DataFrame) -> bytes:
    return _ipc_table(pa.Table.from_pandas(frame, preserve_index=False))


def _ipc_table(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _frame(data: bytes) -> pd.DataFrame:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all().to_pandas()


def _checker(export: MonthExport):
    """The day check each task runs (what it needs of the manifest travels with it)."""
    days = {d["day"]: d for d in export.days}
    window, period = dict(export.manifest["events"]), export.period
    window.pop("days", None)

    def check(table: pa.Table) -> pa.Table:
        day = table["day"][0].as_py()
        if day not in days:
            raise ExportRefused(f"events/day={day!r}: a day the manifest does not list")
        kept = checked_day(table.select(list(CANONICAL_COLUMNS)).cast(EVENT_SCHEMA), days[day], window, period)
        out = kept.select(frame_reading._BLOCK_COLUMNS).append_column("has_reason", pc.is_valid(kept["reason"]))
        return out.append_column("day", pa.array([day] * out.num_rows, pa.string()))
    return check


def role_partitions(pairs: pd.DataFrame, workforce: pd.DataFrame) -> pd.DataFrame:
    """(user_id, part) for every user of `pairs` (user_id, the role an event carries): the user's
    effective roles are the workforce file's role, else each role their events carry ("" for none);
    roles one user spans are merged into one partition (union-find over a few roles)."""
    known = workforce.dropna(subset=["user_id"]).drop_duplicates("user_id").set_index("user_id")["role"]
    listed = pairs["user_id"].map(known)
    role = listed.where(listed.notna(), pairs["role"]).fillna("").astype(str)
    parent: dict[str, str] = {r: r for r in role}

    def root(r: str) -> str:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    for _, roles in role.groupby(pairs["user_id"].to_numpy(), sort=False):
        first = root(roles.iloc[0])
        for other in roles.iloc[1:]:
            parent[root(other)] = first
    parts = {r: i for i, r in enumerate(sorted({root(r) for r in parent}))}
    users = pd.DataFrame({"user_id": pairs["user_id"].to_numpy(), "part": [parts[root(r)] for r in role]})
    return users.drop_duplicates("user_id").reset_index(drop=True)


def _cut(table: pa.Table, patients: pa.Array) -> pa.Table:
    """The rows of a patient-scoped context table whose patient is one of `patients`."""
    if "patient_id" not in table.column_names or not table.num_rows:
        return table
    column = table["patient_id"]
    if pa.types.is_null(column.type):
        return table.slice(0, 0)
    return table.filter(pc.fill_null(pc.is_in(column, value_set=patients.cast(column.type)), False))


def partition_frames(table: pa.Table, context: dict[str, pa.Table], period, cut: bool = True) -> Frames:
    """The frames of one partition: its events (`table`, checked rows in any order) in sequence order,
    the workforce whole and (`cut`) the patient-scoped context of the patients its events touch."""
    events = table.select(_ENGINE).cast(_ENGINE_SCHEMA)
    events = events.take(pc.sort_indices(events["seq"]))
    touched = pc.unique(events["patient_id"].combine_chunks().drop_null())
    raw = {name: _objects(kept if name == "workforce" or not cut else _cut(kept, touched))
           for name, kept in context.items()}
    return month_frames(frame_reading._typed_block_events([events]), raw, period)


def judge_partition(part: int, table: pa.Table, context: dict[str, pa.Table], period, policy: Policy,
                    around: timedelta = AROUND, tally: Tally | None = None) -> dict:
    """engine.run over one partition's frames; what the partition sends back."""
    return _results(part, engine.run(partition_frames(table, context, period), policy), around, tally)


def _judge(context, period, policy: Policy, around: timedelta, tally: Tally | None):
    """The task each partition runs (the context arrives once per executor, broadcast as Arrow IPC)."""
    def judge(table: pa.Table) -> pa.Table:
        tables = {name: pa.ipc.open_stream(pa.py_buffer(data)).read_all() for name, data in context.value.items()}
        found = judge_partition(table["part"][0].as_py(), table, tables, period, policy, around, tally)
        return pa.table({name: [value] for name, value in found.items()}, schema=_JUDGED_SCHEMA)
    return judge


def _utc(times: pd.Series) -> np.ndarray:
    """Timezone-aware times as naive UTC datetime64 (what merge_asof compares)."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()


def _results(part: int, found: Detection, around: timedelta, tally: Tally | None = None) -> dict:
    """What a partition sends back: its hits by sequence number; of the events, the hits' own, and of
    each member's accesses those within `around` of one of their hits (what the driver's findings and the
    cases' timelines read, not the month); its members' peer standing; its counts: those of the
    report's activity (access_tally), and `tally`'s of the partition's Detection when one is asked."""
    ctx, hits = found.context, found.hits
    at = np.unique(hits["event"].to_numpy(dtype=np.int64))
    out = hits[[c for c in HIT_COLUMNS if c != "event"] + ["rule"]].assign(
        seq=ctx.events["seq"].to_numpy()[hits["event"].to_numpy(dtype=np.int64)])
    marks = pd.DataFrame({"user_id": ctx.events["user_id"].to_numpy(dtype=object)[at],
                          "at": _utc(ctx.events["at"].iloc[at]), "near": True}).sort_values("at", kind="stable")
    acc = ctx.accesses
    mine = acc.index[acc["user_id"].isin(set(marks["user_id"]))]
    probe = pd.DataFrame({"event": mine, "user_id": acc.loc[mine, "user_id"].to_numpy(dtype=object),
                          "at": _utc(acc.loc[mine, "at"])}).sort_values("at", kind="stable")
    probe["user_id"], marks["user_id"] = probe["user_id"].astype(str), marks["user_id"].astype(str)
    near = pd.merge_asof(probe, marks, on="at", by="user_id", direction="nearest", tolerance=pd.Timedelta(around))
    kept = np.sort(near.loc[near["near"].notna(), "event"].to_numpy(dtype=np.int64))
    sent = np.union1d(at, kept)
    peers = standing(acc) if len(acc) else None
    stood = pd.DataFrame({"user_id": [] if peers is None else peers.ids.to_numpy(dtype=object),
                          **{k: [] if peers is None else getattr(peers, k) for k in
                             ("unexplained", "expected", "chance", "median", "peers")}})
    counts = acc["explained_by"].value_counts() if len(acc) else pd.Series(dtype="int64")

    def rows(frame: pd.DataFrame, events: np.ndarray) -> pd.DataFrame:
        return frame.loc[frame.index.intersection(events)].reset_index(drop=True)
    return {"part": part, "hits": _ipc(out), "events": _ipc(ctx.events.iloc[sent].reset_index(drop=True)),
            "activity": _ipc(rows(ctx.activity, at)), "accesses": _ipc(acc.loc[kept].reset_index(drop=True)),
            "denials": _ipc(rows(ctx.denials, at)), "standing": _ipc(stood), "judged": len(acc),
            "explained": int(acc["explained"].sum()) if len(acc) else 0,
            "explained_by": json.dumps({str(k): int(v) for k, v in counts.items()}),
            "summary": json.dumps(access_tally(ctx)), "tally": json.dumps(tally(found) if tally else None)}


@dataclass
class ClusterContext(DetectionContext):
    """What the cluster sends back: the hits' events (activity and denials: only those), the accesses
    within AROUND of a member's hit (what case timelines cut), and the counts over every access
    judged; the rest of the month stayed on the cluster."""

    judged_count: int = 0
    explained_count: int = 0
    explained_by_count: dict = field(default_factory=dict)
    access_tallies: list = field(default_factory=list)  # access_tally of each partition (reporting.activity)
    event_counts: pd.DataFrame | None = None  # the period's events by day, source and outcome (event_counts)
    tallies: list = field(default_factory=list)  # the Tally asked of each partition, if any

    @property
    def judged(self) -> int:
        return self.judged_count

    @property
    def explained_share(self) -> float | None:
        return None if not self.judged_count else self.explained_count / self.judged_count

    @property
    def explained_by_share(self) -> dict[str, float]:
        if not self.judged_count:
            return {}
        return {name: self.explained_by_count.get(name, 0) / self.judged_count for name in EXPLANATIONS}


def _unwrapped(exc: Exception) -> Exception:
    """A task's ExportRefused as itself (Spark reports it inside a PythonException's text); any other
    failure of the job as one line (Spark's first)."""
    found = re.search(r"ExportRefused: (.+)", str(exc))
    if found:
        return ExportRefused(found.group(1).strip())
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ConfigurationError(f"the Spark job failed: {reason[:300]}")


def detect_on_spark(spark, export: MonthExport, policy: Policy, around: timedelta = AROUND,
                    tally: Tally | None = None) -> Detection:
    """The rules over a checked export on `spark` (a session): a Detection as engine.run gives, whose
    context holds the accesses within `around` of each member's hits (the case timelines' reach), the
    counts the report's activity states, and `tally` of each partition's Detection (a callable that
    travels to the executors: what a caller counts of the month without bringing it back)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    require_lookback(export, policy)
    raw = {name: context_table(export, name) for name in CONTEXT}  # each against its SHA-256
    workforce = _objects(raw["workforce"])
    if not export.days:
        return assemble(export.period, policy, raw, _nobody(raw, export.period, policy, around, tally), _no_events())
    checked = None
    try:
        events = spark.read.parquet(str(export.folder / "events")).select(*CANONICAL_COLUMNS, "day")
        checked = events.groupBy("day").applyInArrow(_checker(export), CHECKED).persist(StorageLevel.DISK_ONLY)
        seen = {r["day"]: r["count"] for r in checked.groupBy("day").count().collect()}
        missing = [d["file"] for d in export.days if d["day"] not in seen]
        if missing:
            raise ExportRefused(f"{missing[0]}: missing from what the cluster read ({len(missing)} days in all)")
        first, last = export.period.first_day.isoformat(), export.period.last_day.isoformat()
        counts = (checked.where((F.col("day") >= first) & (F.col("day") <= last))
                  .groupBy("day", "source", "outcome").count().toPandas())
        pairs = checked.where(F.col("user_id").isNotNull()).select("user_id", "role").distinct().toPandas()
        parts = spark.createDataFrame(role_partitions(pairs, workforce))
        context = spark.sparkContext.broadcast({name: _ipc_table(t) for name, t in raw.items()})
        judged = (checked.join(F.broadcast(parts), "user_id").groupBy("part")
                  .applyInArrow(_judge(context, export.period, policy, around, tally), JUDGED).collect())
        context.unpersist()
    except AuditorError:
        raise
    except Exception as exc:  # a task's refusal, or Spark's own failure
        raise _unwrapped(exc) from None
    finally:
        if checked is not None:
            checked.unpersist()
    counts["day"] = [date.fromisoformat(d) for d in counts["day"]]
    return assemble(export.period, policy, raw, judged or _nobody(raw, export.period, policy, around, tally), counts)


def _nobody(raw, period, policy: Policy, around: timedelta, tally: Tally | None) -> list:
    """No member's events to send: the one partition there is, empty, judged here (its frames typed)."""
    return [judge_partition(0, _ENGINE_SCHEMA.empty_table(), raw, period, policy, around, tally)]


def _no_events() -> pd.DataFrame:
    return pd.DataFrame({"day": [], "source": [], "outcome": [], "count": pd.Series([], dtype="int64")})


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' frames as one: a column categorical in any of them is categorical over the union
    of their categories (a partition whose column is all missing sends it with none, or not as one)."""
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            parts = [p if isinstance(p.dtype, pd.CategoricalDtype) else p.astype("category") for p in parts]
            common = pd.Index(pd.unique(np.concatenate([np.asarray(p.cat.categories, dtype=object) for p in parts])))
            for f, p in zip(frames, parts):
                f[name] = p.cat.set_categories(common)
    return pd.concat(frames, ignore_index=True)


def assemble(period, policy: Policy, raw: dict[str, pa.Table], judged: list, counts: pd.DataFrame) -> Detection:
    """One Detection from the partitions' results and the period's event counts (event_counts): the
    members' events numbered in sequence order. Its frames hold those events and the workforce; the
    patient-scoped context stayed on the cluster."""
    def joined(name: str) -> pd.DataFrame:
        sent = [_frame(r[name]) for r in judged]
        frames = [f for f in sent if len(f)]
        return _concat(frames) if frames else sent[0]  # none sent any: a partition's empty frame, typed

    events = joined("events")
    events = events.iloc[np.argsort(events["seq"].to_numpy(), kind="stable")].reset_index(drop=True)
    number = pd.Series(np.arange(len(events)), index=events["seq"].to_numpy())

    def numbered(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame):  # its columns, as a partition typed them
            return frame.set_axis(pd.Index([], dtype="int64", name="event"))
        frame.index = pd.Index(number.loc[frame["seq"].to_numpy()].to_numpy(), name="event")
        return frame.sort_index(kind="stable")

    running = {rule.id: i for i, rule in enumerate(policy.running())}
    hits = joined("hits")
    if len(hits):
        hits = hits.assign(event=number.loc[hits["seq"].to_numpy()].to_numpy(), order=hits["rule"].map(running))
        hits = hits.sort_values(["order", "event"], kind="stable").reset_index(drop=True)[[*HIT_COLUMNS, "rule"]]
        for name in ("unit", "evidence", "severity"):
            hits[name] = hits[name].astype("string")
    else:
        hits = pd.DataFrame(columns=[*HIT_COLUMNS, "rule"])
    stood = [_frame(r["standing"]) for r in judged]
    stood = pd.concat(stood, ignore_index=True) if stood else pd.DataFrame({"user_id": []})
    peers = Standing(pd.Index(stood["user_id"].to_numpy()), *(stood[k].to_numpy() for k in
                                                              ("unexplained", "expected", "chance", "median", "peers"))
                     ) if len(stood) else None
    by = {}
    for r in judged:
        for name, count in json.loads(r["explained_by"]).items():
            by[name] = by.get(name, 0) + count
    none = {name: _objects(raw[name].slice(0, 0)) for name in CONTEXT}
    frames = Frames(events, typed_workforce(_objects(raw["workforce"])), typed_patients(none["patients"]),
                    typed_encounters(none["encounters"]), typed_care_team(none["care_team"]), period, [])
    ctx = ClusterContext(events, numbered(joined("activity")), numbered(joined("accesses")), numbered(joined("denials")),
                         frames, policy.settings, judged_count=sum(r["judged"] for r in judged),
                         explained_count=sum(r["explained"] for r in judged), explained_by_count=by,
                         access_tallies=[json.loads(r["summary"]) for r in judged], event_counts=counts,
                         tallies=[json.loads(r["tally"]) for r in judged])
    return Detection(ctx, hits, peers)
