"""The rule pack on Spark (local[2]) finds exactly what the local engine finds: the same hits, and from
them the same findings, on a simulated month whose events are in blocks and rows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyspark")

from auditor.audit.events import CANONICAL_COLUMNS  # noqa: E402
from auditor.cluster.month_input import checked_days, frames_of, open_export  # noqa: E402
from auditor.cluster.partitions import role_partitions  # noqa: E402
from auditor.cluster.peer_group_split import PART_EVENTS  # noqa: E402
from auditor.cluster.spark_engine import detect_on_spark, spark_session  # noqa: E402
from auditor.policy import engine  # noqa: E402
from auditor.policy.findings import build_findings  # noqa: E402
from auditor.policy.frames import load_frames  # noqa: E402
from auditor.review.month_export import export_month  # noqa: E402
from auditor.review.period import month_period  # noqa: E402
from tests.cluster.keen import keen  # noqa: E402
from tests.cluster.variants import exported_variant, sign_again, variant  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    session = spark_session("local[2]", "auditor tests")
    yield session
    session.stop()


def _keyed(detection) -> pd.DataFrame:
    seq = detection.context.events["seq"].to_numpy()
    hits = detection.hits.assign(seq=seq[detection.hits["event"].to_numpy()]).drop(columns="event")
    hits = hits.sort_values(["rule", "seq"]).reset_index(drop=True)
    return hits.astype({c: object for c in hits.columns})


def _finding(f) -> tuple:
    return (f.rule, f.severity, f.user_id, f.patient_id, tuple(f.event_ids), f.risk, f.explanation, f.rank,
            f.first_at, f.last_at)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("eager", [False, True], ids=["shipped", "keen-unusual-access"])
def test_spark_finds_what_the_local_engine_finds(month_vault, policy, spark, tmp_path, eager):
    """The shipped policy, and one whose unusual-access flags members (version 2's rule: on this month
    the shipped one flags no one, so its equality alone would compare two empty sets)."""
    policy = keen(policy) if eager else policy
    november = month_period("2026-11", month_vault.timezone)
    local = engine.run(load_frames(month_vault.records, november, policy.lookback(),
                                   log_key=month_vault.keyring.log_mac_key), policy)
    export_month(month_vault, november, policy, tmp_path / "nov", "officer")
    remote = detect_on_spark(spark, open_export(tmp_path / "nov", month_vault.keyring.signing_public_key), policy)
    assert len(local.hits) > 50
    if eager:  # unusual-access's hits compared too, not two empty sets
        assert (local.hits["rule"] == "unusual-access").sum() > 20
    pd.testing.assert_frame_equal(_keyed(remote), _keyed(local))
    assert remote.context.judged == len(local.context.accesses)
    assert remote.context.explained_share == local.context.explained_share
    assert remote.context.explained_by_share == local.context.explained_by_share
    assert [_finding(f) for f in build_findings(remote, policy)] == [_finding(f) for f in build_findings(local, policy)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("eager", [False, True], ids=["shipped", "keen-unusual-access"])
def test_a_role_judged_in_parts_by_peer_group_on_spark_finds_what_the_local_engine_finds(month_vault, policy, spark,
                                                                                          tmp_path, eager):
    """No task holds a large role whole: its large peer groups are judged in parts, the rest of the role
    after them, hearing what the role's medians count of them; the hits and findings are those of the
    whole month judged at once, unusual-access's too (the keen policy: its peer medians heard across
    the parts)."""
    policy = keen(policy) if eager else policy
    from auditor.cluster.local_partitions import partition_of_each_event
    from auditor.cluster.peer_group_split import plan

    november = month_period("2026-11", month_vault.timezone)
    frames = load_frames(month_vault.records, november, policy.lookback(), log_key=month_vault.keyring.log_mac_key)
    roles = partition_of_each_event(frames)
    nurses = int(np.bincount(roles[roles >= 0])[roles[(frames.events["event_role"] == "nurse").to_numpy()][0]])
    most = nurses // 3
    split = plan(frames, policy, roles, most_events=most)
    assert split.hears, "the simulated month must have a role to split"
    parts = np.bincount(split.part[split.part >= 0])
    local = engine.run(frames, policy)
    export_month(month_vault, november, policy, tmp_path / "nov", "officer")
    remote = detect_on_spark(spark, open_export(tmp_path / "nov", month_vault.keyring.signing_public_key), policy,
                             tally=lambda found: len(found.context.events), most_events=most)
    assert sorted(remote.context.tallies) == sorted(parts.tolist())  # each planned part a task of its own
    assert remote.context.largest_part == (int(parts.max()), most)  # what the CLI warns of when above the bound
    assert max(parts[list(split.hears[max(split.hears)]) + [max(split.hears)]]) < nurses  # no task held the nurses
    if eager:  # unusual-access's hits compared too, not two empty sets
        assert (local.hits["rule"] == "unusual-access").sum() > 20
    pd.testing.assert_frame_equal(_keyed(remote), _keyed(local))
    assert remote.context.judged == len(local.context.accesses)
    assert [_finding(f) for f in build_findings(remote, policy)] == [_finding(f) for f in build_findings(local, policy)]
    assert _standing(remote) == _standing(local)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_accounts_the_workforce_file_does_not_know_and_events_naming_no_user_on_spark(month_vault, policy, spark,
                                                                                   tmp_path):
    """What the simulated month lacks, as a log edited behind the gateway or a feed ahead of its
    workforce file holds it: accounts the workforce file does not know, whose accesses carry two roles
    (their roles then share a partition) or none, and denied logins that name no user (the local
    engine judges those as a partition of their own; the cluster leaves them out, and no rule judges
    an event without a user). The hits and findings are the local engine's."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from auditor.audit.events import AuditEvent
    from auditor.vault.records import Patient

    with month_vault.records.connect() as conn:
        patients = list(conn.scalars(select(Patient.id).order_by(Patient.id).limit(40)))
    start = datetime(2026, 11, 3, 2, tzinfo=timezone.utc)
    events = [AuditEvent(at=start + timedelta(hours=7 * i), action="view", user_id=f"ghost.{i % 3}",
                         role=("nurse", "physician", None)[i % 3] if i % 2 else "physician",
                         patient_id=patients[i % len(patients)], source="ehr", source_event_id=f"ghost-{i}")
              for i in range(90)]
    events += [AuditEvent(at=start + timedelta(minutes=13 * i), action="login_failed", user_id=None, outcome="denied")
               for i in range(200)]
    with month_vault.records.begin() as conn:
        appended = month_vault.audit_log.append(conn, events)
    month_vault.audit_log.after_commit(appended, len(events))
    november = month_period("2026-11", month_vault.timezone)
    frames = load_frames(month_vault.records, november, policy.lookback(), log_key=month_vault.keyring.log_mac_key)
    assert frames.events["user_id"].isna().sum() >= 200 and (frames.events["user_id"] == "ghost.1").any()
    local = engine.run(frames, policy)
    assert local.hits["event"].isin(np.flatnonzero(frames.events["user_id"].astype(str).str.startswith("ghost"))).any()
    export_month(month_vault, november, policy, tmp_path / "nov", "officer")
    remote = detect_on_spark(spark, open_export(tmp_path / "nov", month_vault.keyring.signing_public_key), policy)
    pd.testing.assert_frame_equal(_keyed(remote), _keyed(local))
    assert remote.context.judged == len(local.context.accesses)
    assert [_finding(f) for f in build_findings(remote, policy)] == [_finding(f) for f in build_findings(local, policy)]


@pytest.fixture(scope="module")
def november_events(exported_november) -> pa.Table:
    """Every event of the exported November (its window), all its stored values."""
    return pa.concat_tables(checked_days(open_export(*exported_november), list(CANONICAL_COLUMNS)))


# Each example is an export written and a Spark job (about 10 s on local[2], 19 s on a CI machine
# with the other xdist worker busy beside it): a few drawn anew each run, beside the two pinned below.
@pytest.mark.timeout(900)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0.2, 1.0), ghosts=st.integers(0, 8), flips=st.integers(0, 300), seed=st.integers(0, 2**32 - 1),
       eager=st.booleans(), split=st.booleans())
@example(keep=1.0, ghosts=0, flips=0, seed=0, eager=False, split=True)  # in parts under each policy, every run
@example(keep=0.6, ghosts=4, flips=100, seed=1, eager=True, split=True)
def test_spark_finds_what_the_local_engine_finds_on_months_hypothesis_makes(exported_november, november_events, policy,
                                                                          spark, tmp_path_factory, keep, ghosts, flips,
                                                                          seed, eager, split):
    """Issue 19: both engines on months hypothesis makes from the simulated one (events dropped, accounts
    the workforce file does not know spanning roles, carried roles changed), each exported and signed
    as the vault signs its own, then read by Spark (every day checked) and by this machine (frames_of,
    the local engine's frames: tests/cluster/test_month_export.py). With `split`, the largest role is
    judged in parts by peer group; with `eager`, unusual-access flags members."""
    policy = keen(policy) if eager else policy
    folder, key = exported_november
    table = variant(november_events, keep, ghosts, flips, seed)
    export = open_export(exported_variant(folder, key, folder.parent / "home", table,
                                          tmp_path_factory.mktemp("variant") / "nov"), key)
    frames = frames_of(export)
    whole = _largest_role_partition(table, frames.workforce)
    local = engine.run(frames, policy)
    most = whole // 3 if split else PART_EVENTS
    remote = detect_on_spark(spark, export, policy, most_events=most)
    assert len(local.hits) > 10
    assert (remote.context.largest_part[0] < whole) == split  # a role judged in parts only when asked
    pd.testing.assert_frame_equal(_keyed(remote), _keyed(local))
    assert remote.context.judged == len(local.context.accesses)
    assert remote.context.explained_share == local.context.explained_share
    assert [_finding(f) for f in build_findings(remote, policy)] == [_finding(f) for f in build_findings(local, policy)]


def _largest_role_partition(table: pa.Table, workforce: pd.DataFrame) -> int:
    """The events of the largest partition by role (whole roles, as the cluster first partitions)."""
    named = table.filter(pc.is_valid(table["user_id"])).select(["user_id", "role"]).to_pandas()
    counts = named.groupby(["user_id", "role"], dropna=False).size().rename("count").reset_index()
    parts = role_partitions(counts[["user_id", "role"]], workforce[["user_id", "role"]].astype(object))
    events = parts["user_id"].map(counts.groupby("user_id")["count"].sum())
    return int(np.bincount(parts["part"], weights=events).max())


def _standing(detection) -> dict:
    from auditor.policy.peer_groups import standing

    peers = detection.standing or standing(detection.context.accesses)
    return {u: (peers.expected[i], peers.median[i], int(peers.peers[i])) for i, u in enumerate(peers.ids)}


def _copy_export(exported_november, tmp_path):
    import shutil
    folder, key = exported_november
    shutil.copytree(folder, tmp_path / "nov")
    return open_export(tmp_path / "nov", key)


def test_the_cluster_refuses_a_day_whose_events_were_changed(exported_november, policy, spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from auditor.cluster.month_input import ExportRefused
    export = _copy_export(exported_november, tmp_path)
    day = export.days[4]
    table = pq.read_table(export.folder / day["file"])
    users = table["user_id"].to_pylist()
    users[0] = "someone.else"
    pq.write_table(table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(users, pa.string())),
                   export.folder / day["file"])
    with pytest.raises(ExportRefused, match=f"^{day['file']}: its events' Merkle root is not the one the vault signed"):
        detect_on_spark(spark, export, policy)


def test_the_cluster_refuses_days_whose_roots_do_not_give_the_signed_root(exported_november, policy, spark, tmp_path):
    """The manifest signs each day's root and the root over them: even signed by the vault's own key (a
    bug in an exporter, not an outsider), days that do not give the export's root are refused on the
    cluster before any task runs, as `auditor export check` refuses them."""
    from auditor.cluster.month_input import ExportRefused

    export = _copy_export(exported_november, tmp_path)
    sign_again(export.folder, exported_november[0].parent / "home",
               lambda document: document["events"].update(root="00" * 32))
    export = open_export(export.folder, exported_november[1])  # signed by the vault: it opens
    with pytest.raises(ExportRefused, match="^the days' roots do not give the export's root$"):
        detect_on_spark(spark, export, policy)


def test_executors_run_this_interpreter_only_on_this_machine(spark):
    """On this machine the executors run this interpreter (auditor is installed in it), as a task
    reports; on a cluster (YARN, Kubernetes, a remote standalone master) this machine's Python path
    means nothing, so auditor names none and PYSPARK_PYTHON decides. The driver listens on loopback
    only here."""
    import sys

    from auditor.cluster.spark_engine import executor_python, session_settings

    assert spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").executable).collect() == \
        [sys.executable]
    for master in ("local[2]", "local[*]", "spark://127.0.0.1:7077", "spark://localhost:7077"):
        assert executor_python(master) == sys.executable
        assert session_settings(master)["spark.driver.bindAddress"] == "127.0.0.1"
    for master in ("yarn", "k8s://https://10.0.0.1:6443", "spark://spark-master:7077"):
        assert executor_python(master) is None and "spark.driver.bindAddress" not in session_settings(master)


def test_the_cluster_refuses_a_day_the_manifest_does_not_list(exported_november, policy, spark, tmp_path):
    import shutil

    from auditor.cluster.month_input import ExportRefused
    export = _copy_export(exported_november, tmp_path)
    (export.folder / "events" / "day=2026-12-24").mkdir()
    shutil.copyfile(export.folder / export.days[2]["file"], export.folder / "events" / "day=2026-12-24" / "part-0.parquet")
    with pytest.raises(ExportRefused, match="^events/day='2026-12-24': a day the manifest does not list"):
        detect_on_spark(spark, export, policy)


def test_the_cluster_refuses_a_day_gone_missing(exported_november, policy, spark, tmp_path):
    import shutil

    from auditor.cluster.month_input import ExportRefused
    export = _copy_export(exported_november, tmp_path)
    shutil.rmtree(export.folder / export.days[7]["file"].rsplit("/", 1)[0])
    with pytest.raises(ExportRefused, match=f"^{export.days[7]['file']}: missing from what the cluster read"):
        detect_on_spark(spark, export, policy)


def test_the_partitions_are_judged_side_by_side(exported_november, policy, spark):
    """A small month's partitions go to as many tasks, not to the one task adaptive execution would pack
    them into: on local[2], two Python workers judge them (each partition's tally is its worker's pid)."""
    import os

    folder, key = exported_november
    detection = detect_on_spark(spark, open_export(folder, key), policy, tally=lambda found: os.getpid())
    assert len(detection.context.tallies) > 4  # several roles: several partitions
    assert len(set(detection.context.tallies)) == 2


def test_the_judging_tasks_are_the_shuffle_partitions_and_never_fewer_than_the_partitions(spark):
    from auditor.cluster.spark_engine import _judging_tasks

    configured = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        spark.conf.set("spark.sql.shuffle.partitions", "20")
        assert _judging_tasks(spark, 3) == 20
        spark.conf.set("spark.sql.shuffle.partitions", "2")
        assert _judging_tasks(spark, 16) == 16
        spark.conf.unset("spark.sql.shuffle.partitions")  # a session that never set it: Spark's own 200
        assert _judging_tasks(spark, 16) == 200
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", configured)


def test_the_stages_judge_a_split_roles_parts_first_and_fill_the_cores_beside_them():
    from auditor.cluster.spark_engine import _stages

    users = pd.DataFrame({"part": [0, 1, 2, 3, 4, 5, 5], "events": [100, 900, 50, 400, 300, 20, 10]})
    first, second = _stages(users, {2: (1,)}, cores=2)  # a role split into part 1 (900 events) and its rest, 2
    assert first[0] == 1 and second[0] == 2 and sorted(first + second) == [0, 1, 2, 3, 4, 5]
    assert first == [1, 3, 4, 0, 5] and second == [2]  # beside the 900: 830 on the other core
    first, second = _stages(users.assign(events=[100, 500, 50, 400, 300, 20, 10]), {2: (1,)}, cores=2)
    assert first == [1, 3, 0] and second == [2, 4, 5]  # 500 on one core, 500 beside it; what would not fit, after
    assert _stages(users, {}, cores=2) == ([0, 1, 2, 3, 4, 5], [])  # nothing split: one stage


_NOVEMBER = month_period("2026-11", ZoneInfo("America/New_York"))
_MONTH_START = _NOVEMBER.start.value // 1000  # in UTC microseconds: events around it are in and before the month


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.sampled_from(["ehr", "vault"]),
                          st.sampled_from(["nurse", "service", None]), st.sampled_from(["success", "denied"]),
                          st.sampled_from(["view", "login_failed", "export"]), st.booleans(),
                          st.integers(-3_600_000_000, 3_600_000_000)), min_size=1, max_size=25))
@example([("u1", "ehr", "nurse", "denied", "view", True, 60), ("u1", "ehr", "nurse", "success", "view", True, 120)])
@example([("u1", "ehr", "nurse", "success", "view", False, 60), ("u1", "ehr", "nurse", "success", "view", True, 120)])
@example([("u1", "ehr", "nurse", "success", "view", True, -60), ("u1", "ehr", "nurse", "success", "view", True, 120)])
@example([("u1", "vault", "service", "success", "view", True, 60), ("u1", "vault", "nurse", "success", "view", True, 90),
          ("u1", "ehr", "service", "success", "view", True, 120)])
def test_a_members_first_access_is_found_among_the_earliest_event_of_each_kind(spark, policy, rows):
    """The cluster sends the driver one event per kind a member has (_kinds), not the month: each
    member's first access among them is their first access among all their events, whatever comes
    first (denials, service work, events before the month or without a patient)."""
    from auditor.cluster.peer_group_split import first_accesses
    from auditor.cluster.spark_engine import _ENGINE, _ENGINE_SCHEMA, _kinds
    from auditor.policy import frames as frame_reading

    table = pa.table({"seq": list(range(1, len(rows) + 1)), "at_us": [_MONTH_START + r[6] for r in rows],
                      "source": [r[1] for r in rows], "source_event_id": [f"e{i}" for i in range(len(rows))],
                      "user_id": [r[0] for r in rows], "role": [r[2] for r in rows], "action": [r[4] for r in rows],
                      "patient_id": [7 if r[5] else None for r in rows], "record_type": [None] * len(rows),
                      "outcome": [r[3] for r in rows], "purpose": [None] * len(rows),
                      "break_glass": [False] * len(rows), "has_reason": [False] * len(rows)}).cast(_ENGINE_SCHEMA)
    november = _NOVEMBER

    def firsts(events: pa.Table) -> list:
        found = first_accesses(frame_reading._typed_block_events([events.select(_ENGINE).cast(_ENGINE_SCHEMA)]),
                               november, policy, in_order=False)
        return sorted(found.itertuples(index=False, name=None))
    kinds = _kinds(spark.createDataFrame(table.to_pandas()), november).toArrow()
    assert firsts(kinds) == firsts(table)
