"""A month's export: the rules over it find exactly what they find over the vault, and it holds what
its manifest says (each day's events, in sequence order, under its Merkle root)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from auditor.audit.events import CANONICAL_COLUMNS
from auditor.audit.schema import AuditEventRow
from auditor.cluster.month_input import open_export
from auditor.errors import InputError, OutputError
from auditor.policy import engine
from auditor.policy.frames import load_frames
from auditor.review.month_export import checked_export, export_month, review_export
from auditor.review.period import month_period


def _hits(detection) -> pd.DataFrame:
    hits = detection.hits.sort_values(["rule", "event"]).reset_index(drop=True)
    return hits.astype({c: object for c in hits.columns})


def test_the_rules_over_an_export_find_what_they_find_over_the_vault(month_vault, policy, tmp_path):
    november = month_period("2026-11", month_vault.timezone)
    local = engine.run(load_frames(month_vault.records, november, policy.lookback(),
                                   log_key=month_vault.keyring.log_mac_key), policy)
    done = export_month(month_vault, november, policy, tmp_path / "nov", "officer")  # then recorded on the log
    export, detection = review_export(tmp_path / "nov", month_vault.keyring.signing_public_key, policy)
    assert len(local.hits) > 50 and set(local.hits["rule"]) >= {"after-hours", "no-treatment-relationship"}
    pd.testing.assert_frame_equal(_hits(detection), _hits(local))
    assert len(detection.context.accesses) == len(local.context.accesses) > 10_000
    assert detection.context.explained_share == local.context.explained_share
    assert export.events == done.events == len(local.context.frames.events)


def test_each_day_holds_its_local_days_events_in_sequence_order_with_every_stored_value(month_vault, policy, tmp_path):
    november = month_period("2026-11", month_vault.timezone)
    export_month(month_vault, november, policy, tmp_path / "nov", "officer")
    manifest = json.loads((tmp_path / "nov" / "manifest.json").read_text())
    days = manifest["events"]["days"]
    reach = (pd.Timestamp(november.start - policy.lookback()).tz_convert(november.tz).date().isoformat())
    assert reach <= days[0]["day"] and days[0]["day"] in (reach, "2026-11-01")
    assert days[-1]["day"] == "2026-11-30" and [d["day"] for d in days] == sorted(d["day"] for d in days)
    seqs = []
    for day in days:
        table = pq.read_table(tmp_path / "nov" / day["file"])
        assert table.column_names == list(CANONICAL_COLUMNS) and table.num_rows == day["events"]
        at = pd.to_datetime(table["at_us"].to_numpy(), unit="us", utc=True).tz_convert(november.tz)
        assert {d.isoformat() for d in at.date} == {day["day"]}
        seqs += table["seq"].to_pylist()
    # every event of the window, each once: the vault's own (rows) and the imported (blocks)
    assert sorted(seqs) == sorted(set(seqs))
    with month_vault.records.connect() as conn:
        own = set(conn.scalars(select(AuditEventRow.seq).where(AuditEventRow.source == "vault",
                                                               AuditEventRow.action == "view")))
    assert own and own <= set(seqs)
    assert manifest["checkpoint"]["size"] >= max(seqs)
    reasons = [r for day in days for r in pq.read_table(tmp_path / "nov" / day["file"])["reason"].to_pylist() if r]
    assert reasons and all(b"seen in the ED" not in r for r in reasons)  # sealed, as the log stores them
    assert b"seen in the ED" not in b"".join(p.read_bytes() for p in (tmp_path / "nov").rglob("*") if p.is_file())


def test_the_export_is_recorded_and_its_checkpoint_kept(month_vault, policy, tmp_path):
    november = month_period("2026-11", month_vault.timezone)
    done = export_month(month_vault, november, policy, tmp_path / "nov", "officer")
    with month_vault.records.connect() as conn:
        recorded = conn.execute(select(AuditEventRow.user_id, AuditEventRow.detail)
                                .where(AuditEventRow.action == "export", AuditEventRow.record_type == "audit_log")).all()
    assert [(u, f"root {done.root}" in d) for u, d in recorded] == [("officer", True)]
    assert month_vault.checkpoints.latest().size == done.checkpoint_size
    export, events = checked_export(tmp_path / "nov", month_vault.keyring.signing_public_key)
    latest = month_vault.checkpoints.latest()
    assert events == done.events and (export.checkpoint.size, export.checkpoint.root) == (latest.size, latest.root)


def test_an_export_goes_only_to_a_new_or_empty_folder_and_leaves_nothing_when_it_fails(month_vault, policy, tmp_path):
    november = month_period("2026-11", month_vault.timezone)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "other.txt").write_text("x")
    with pytest.raises(OutputError, match="not an empty folder"):
        export_month(month_vault, november, policy, tmp_path / "full", "officer")
    (tmp_path / "empty").mkdir()
    export_month(month_vault, november, policy, tmp_path / "empty", "officer")
    assert (tmp_path / "empty" / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "full", "home"]  # no staging folder left


def test_an_export_is_refused_when_the_rules_look_back_further_than_it_holds(month_vault, policy, tmp_path):
    november = month_period("2026-11", month_vault.timezone)
    export_month(month_vault, november, policy, tmp_path / "nov", "officer")
    document = json.loads((tmp_path / "nov" / "manifest.json").read_text())
    assert timedelta(seconds=document["lookback_seconds"]) == policy.lookback() == timedelta(hours=1)
    without_denials = replace(policy, rules={k: r for k, r in policy.rules.items() if k != "repeated-denials"})
    assert without_denials.lookback() == timedelta(0)
    export_month(month_vault, november, without_denials, tmp_path / "short", "officer")
    with pytest.raises(InputError, match=r"the rules look back 1:00:00 \(h:mm:ss\) before the month; the export holds 0:00:00"):
        review_export(tmp_path / "short", month_vault.keyring.signing_public_key, policy)
    review_export(tmp_path / "short", month_vault.keyring.signing_public_key, without_denials)


def test_a_folder_without_a_manifest_is_not_an_export(tmp_path, month_vault):
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match="no manifest.json"):
        open_export(tmp_path / "x", month_vault.keyring.signing_public_key)
