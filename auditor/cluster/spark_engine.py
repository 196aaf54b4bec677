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
   A role of more than `most_events` events (a health system's nurses) is judged in parts, its
   large peer groups whole in each (auditor.cluster.peer_group_split): the cluster counts each
   member's events and finds their first access (the role it carries), the driver plans the parts,
   and the rest of each split role is judged in a second stage that hears from its role's parts what
   the role's medians count of them (PeersElsewhere, sent back as Arrow). No task then holds a role
   whole, only a part of about `most_events` events.
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

import os
import re
import sys
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditor.audit.events import CANONICAL_COLUMNS
from auditor.cluster.month_export import EVENT_SCHEMA
from auditor.cluster.month_input import (CONTEXT, ExportRefused, MonthExport, _objects, checked_day, context_table,
                                        month_frames, require_days_root, require_lookback)
from auditor.cluster.partitions import AROUND, Tally, _ipc_table, _read_ipc, _results, assemble, role_partitions
from auditor.cluster.peer_group_split import (PART_EVENTS, first_accesses, heard, members, plan_members, told,
                                              told_by, told_table)
from auditor.errors import AuditorError, ConfigurationError, InputError
from auditor.policy import engine
from auditor.policy import frames as frame_reading
from auditor.policy.engine import Detection
from auditor.policy.frames import Frames
from auditor.policy.peer_groups import PeersElsewhere
from auditor.policy.rules import Policy

_ENGINE = [*frame_reading._BLOCK_COLUMNS, "has_reason"]
_ENGINE_SCHEMA = pa.schema([EVENT_SCHEMA.field(c) for c in frame_reading._BLOCK_COLUMNS]
                           + [pa.field("has_reason", pa.bool_())])
CHECKED = ("seq long, at_us long, source string, source_event_id string, user_id string, role string, "
           "action string, patient_id long, record_type string, outcome string, purpose string, "
           "break_glass boolean, has_reason boolean, day string")
JUDGED = ("part int, hits binary, events binary, activity binary, accesses binary, denials binary, standing binary, "
          "judged long, explained long, explained_by string, summary string, tally string, told binary")
_JUDGED_SCHEMA = pa.schema([("part", pa.int32())] + [(n, pa.binary()) for n in ("hits", "events", "activity", "accesses",
                                                                            "denials", "standing")]
                           + [("judged", pa.int64()), ("explained", pa.int64())]
                           + [(n, pa.string()) for n in ("explained_by", "summary", "tally")]
                           + [("told", pa.binary())])
_EPOCH = pd.Timestamp(0, tz="UTC")
_LOOPBACK = re.compile(r"^(local(\[[0-9*, ]+\])?|spark://(127\.0\.0\.1|localhost)(:\d+)?)$")


def session_settings(master: str) -> dict[str, str]:
    """What auditor sets on a session at `master`, over spark-defaults.conf (SPARK_CONF_DIR): for a
    master on this machine (local[...], spark://127.0.0.1 or localhost) the driver bound to loopback
    only, and for local[...] a few shuffle partitions."""
    settings = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
                "spark.sql.execution.arrow.pyspark.enabled": "true"}
    if _LOOPBACK.match(master):
        settings.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
    if master.startswith("local"):  # a few cores: a few shuffle partitions; the JVM is the executor too
        settings.update({"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "4g"})
    return settings


def executor_python(master: str) -> str | None:
    """The Python the executors run, when auditor chooses it: this interpreter, where auditor is
    installed, for a master on this machine. Any other master's executors run what PYSPARK_PYTHON
    names (the README: an environment shipped with spark.archives); this machine's path means nothing
    there. PySpark reads PYSPARK_PYTHON when its context starts (from a Python driver, not the
    spark.pyspark.python setting)."""
    return sys.executable if _LOOPBACK.match(master) else None


def spark_session(master: str, app: str = "auditor rule pack"):
    """A Spark session on `master` (local[2], spark://host:7077, yarn, k8s://...): session_settings,
    and executor_python unless PYSPARK_PYTHON is set already."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark needs pyspark: pip install 'auditor[spark]'") from None
    python = executor_python(master)
    if python is not None:
        os.environ.setdefault("PYSPARK_PYTHON", python)
    builder = SparkSession.builder.master(master).appName(app)
    for key, value in session_settings(master).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


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
                    around: timedelta = AROUND, tally: Tally | None = None, elsewhere: PeersElsewhere | None = None,
                    tells: bool = False) -> dict:
    """engine.run over one partition's frames; what the partition sends back. `elsewhere`: for the rest
    of a split role, what its parts told; `tells`: a part of a split role, whose `told` the rest hears."""
    frames = partition_frames(table, context, period)
    found = engine.run(frames if elsewhere is None else replace(frames, peers_elsewhere=elsewhere), policy)
    return {**_results(part, found, around, tally), "told": _ipc_table(told_table(told(found))) if tells else b""}


def _judge(context, period, policy: Policy, around: timedelta, tally: Tally | None, feeding: frozenset = frozenset(),
           heard_by=None):
    """The task each partition runs (the context arrives once per executor, broadcast as Arrow IPC;
    `heard_by`, broadcast too: what each rest of a split role hears, by its partition)."""
    def judge(table: pa.Table) -> pa.Table:
        tables = {name: _read_ipc(data) for name, data in context.value.items()}
        part = table["part"][0].as_py()
        elsewhere = told_by(_read_ipc(heard_by.value[part])) if heard_by is not None and part in heard_by.value else None
        found = judge_partition(part, table, tables, period, policy, around, tally, elsewhere, part in feeding)
        return pa.table({name: [value] for name, value in found.items()}, schema=_JUDGED_SCHEMA)
    return judge


def _planned(checked, workforce: pd.DataFrame, period, policy: Policy, most_events: int) -> tuple[pd.DataFrame, dict]:
    """(user_id, part, events) of every member, and what the rest of each split role hears from
    (peer_group_split.plan_members): each member's role partition, split by peer group where a role
    holds more than `most_events` events. Counted on the cluster: each member's events by the role they
    carry, and (only when a role is split) the earliest event of each kind a member has (_kinds), of
    which the driver finds each member's first access as the local engine does."""
    from pyspark.sql import functions as F

    named = checked.where(F.col("user_id").isNotNull())
    pairs = named.groupBy("user_id", "role").count().toPandas()
    users = role_partitions(pairs, workforce[["user_id", "role"]].astype(object))  # as partition_of_each_event
    users = users.assign(events=users["user_id"].map(pairs.groupby("user_id")["count"].sum()).to_numpy(dtype=np.int64))
    if not len(users) or not (np.bincount(users["part"], weights=users["events"]) > most_events).any():
        return users, {}
    kinds = _kinds(named, period).toArrow().select(_ENGINE)
    firsts = first_accesses(frame_reading._typed_block_events([kinds.cast(_ENGINE_SCHEMA)]), period, policy,
                            in_order=False)
    carried = firsts.set_index("user_id")["role"].reindex(pd.Index(users["user_id"])).to_numpy(dtype=object, na_value=None)
    planned = members(users["user_id"].to_numpy(dtype=object), carried, workforce)
    code, hears = plan_members(planned.assign(part=users["part"].to_numpy(), events=users["events"].to_numpy()),
                               policy, most_events)
    return users.assign(part=code), hears


def _kinds(named, period):
    """Of a member's events, the earliest of each kind that can differ in being an access of theirs
    (auditor.policy.context: at_work reads the user, source, role, outcome and time against the period;
    touch_a_patient whether a patient is named, and the action): a member's first access is the first
    access among these. At 10 million events: 152,885 rows, in 5.5 s on local[2], where typing every
    event in the tasks took 17 s."""
    from pyspark.sql import functions as F

    start, end = (int((moment - _EPOCH) // pd.Timedelta(microseconds=1)) for moment in (period.start, period.end))
    kind = ["user_id", "source", "role", "outcome", "action", F.col("patient_id").isNull().alias("nobody"),
            ((F.col("at_us") >= start) & (F.col("at_us") < end)).alias("in_period")]
    earliest = named.groupBy(*kind).agg(F.min("seq").alias("seq")).select("seq")  # numbers: a cheap aggregate
    return named.join(F.broadcast(earliest), "seq").select(*_ENGINE)


def _stages(users: pd.DataFrame, hears: dict, cores: int) -> tuple[list[int], list[int]]:
    """The partitions judged in the first stage and in the second, on a cluster of `cores`: the parts of
    split roles first, the rests of those roles second (they hear from the parts); each other partition,
    largest first, in the first stage while it does not make that stage longer (its largest task, or
    its events shared by the cores), else in the second. Without a split role, one stage."""
    sizes = users.groupby("part")["events"].sum()
    if not hears:
        return sorted(sizes.index.tolist()), []
    feeding = {p for parts in hears.values() for p in parts}
    first, second = sorted(feeding), sorted(hears)

    def span(parts: list[int]) -> float:
        events = sizes.reindex(parts, fill_value=0)
        return max(float(events.max()), events.sum() / max(cores, 1))
    for part in sorted(sizes.index.difference(list(feeding | set(hears))), key=lambda p: (-sizes[p], p)):
        (first if span(first + [part]) <= span(first) else second).append(int(part))
    return first, second


def _unwrapped(exc: Exception) -> Exception:
    """A task's ExportRefused as itself (Spark reports it inside a PythonException's text); any other
    failure of the job as one line (Spark's first)."""
    found = re.search(r"ExportRefused: (.+)", str(exc))
    if found:
        return ExportRefused(found.group(1).strip())
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ConfigurationError(f"the Spark job failed: {reason[:300]}")


def _judging_tasks(spark, partitions: int) -> int:
    """How many tasks judge the partitions: the session's shuffle partitions, and never fewer than the
    partitions (hashed to the tasks: two may share one). Each partition's engine.run is CPU-bound however
    few its rows; a shuffle by column alone lets adaptive execution pack a small month's partitions into
    one task, judged one after another on one core, where a shuffle to a count given keeps that count."""
    configured = str(spark.conf.get("spark.sql.shuffle.partitions"))  # no default: the JVM would check it
    return max(partitions, int(configured) if configured.isdigit() else 0, 1)  # "auto" on some platforms


def detect_on_spark(spark, export: MonthExport, policy: Policy, around: timedelta = AROUND,
                    tally: Tally | None = None, most_events: int = PART_EVENTS) -> Detection:
    """The rules over a checked export on `spark` (a session): a Detection as engine.run gives, whose
    context holds the accesses within `around` of each member's hits (the case timelines' reach), the
    counts the report's activity states, and `tally` of each partition's Detection (a callable that
    travels to the executors: what a caller counts of the month without bringing it back); a role of more
    than `most_events` events is judged in parts by peer group."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    require_lookback(export, policy)
    require_days_root(export)  # as checked_days, before any task: each day is checked against its own root
    raw = {name: context_table(export, name) for name in CONTEXT}  # each against its SHA-256
    if not export.days:
        return assemble(_skeleton(raw, export.period), policy, _nobody(raw, export.period, policy, around, tally),
                        _no_events())
    checked, largest = None, 0
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
        partitions, hears = _planned(checked, _skeleton(raw, export.period).workforce, export.period, policy,
                                     most_events)
        if len(partitions):
            largest = int(np.bincount(partitions["part"], weights=partitions["events"]).max())
        keyed = checked.join(F.broadcast(spark.createDataFrame(partitions[["user_id", "part"]])), "user_id")
        context = spark.sparkContext.broadcast({name: _ipc_table(t) for name, t in raw.items()})
        stage_one, stage_two = _stages(partitions, hears, spark.sparkContext.defaultParallelism)
        feeding = frozenset(p for parts in hears.values() for p in parts)
        judged = _judged(spark, keyed.where(F.col("part").isin(stage_one)) if stage_two else keyed, len(stage_one),
                         _judge(context, export.period, policy, around, tally, feeding))
        if stage_two:  # the rest of each split role, once its role's parts have told what they saw
            tells = {row["part"]: told_by(_read_ipc(row["told"])) for row in judged if row["part"] in feeding}
            heard_by = spark.sparkContext.broadcast({rest: _ipc_table(told_table(heard(
                [tells[p] for p in hears[rest] if p in tells]))) for rest in hears})
            judged += _judged(spark, keyed.where(F.col("part").isin(stage_two)), len(stage_two),
                              _judge(context, export.period, policy, around, tally, heard_by=heard_by))
            heard_by.unpersist()
        context.unpersist()
    except AuditorError:
        raise
    except Exception as exc:  # a task's refusal, or Spark's own failure
        raise _unwrapped(exc) from None
    finally:
        if checked is not None:
            checked.unpersist()
    counts["day"] = [date.fromisoformat(d) for d in counts["day"]]
    detection = assemble(_skeleton(raw, export.period), policy,
                         judged or _nobody(raw, export.period, policy, around, tally), counts)
    detection.context.largest_part = (largest, most_events)
    return detection


def _judged(spark, keyed, partitions: int, judge) -> list[dict]:
    """Each partition of `keyed` (checked rows with their `part`) judged by `judge` on the cluster."""
    return [row.asDict() for row in  # dictionaries, whose bytes assemble lets go as it reads them
            keyed.repartition(_judging_tasks(spark, partitions), "part").groupBy("part")
            .applyInArrow(judge, JUDGED).collect()]


def _skeleton(raw: dict[str, pa.Table], period) -> Frames:
    """The frames the driver's Detection holds: the workforce, the patient-scoped context empty (it
    stayed on the cluster); assemble puts the events sent back in."""
    kept = {name: _objects(t if name == "workforce" else t.slice(0, 0)) for name, t in raw.items()}
    return month_frames(None, kept, period)


def _nobody(raw, period, policy: Policy, around: timedelta, tally: Tally | None) -> list:
    """No member's events to send: the one partition there is, empty, judged here (its frames typed)."""
    return [judge_partition(0, _ENGINE_SCHEMA.empty_table(), raw, period, policy, around, tally)]


def _no_events() -> pd.DataFrame:
    return pd.DataFrame({"day": [], "source": [], "outcome": [], "count": pd.Series([], dtype="int64")})


