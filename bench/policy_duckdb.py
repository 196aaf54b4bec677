"""bench/policy.py's baseline: the three compared rules (after-hours, no-treatment-relationship,
excessive-volume) as DuckDB SQL with the same meaning, over the same frames as plain columns."""

from __future__ import annotations

import time

import duckdb
import pandas as pd

from auditor.policy.frames import Frames, Period
from auditor.policy.rules import Policy
from auditor.vault.gateway.context import OWN_SOURCE, SERVICE_ROLE

THREE = ("after-hours", "no-treatment-relationship", "excessive-volume")
DAY_US = 86_400_000_000
OPEN_END_US = 2**62  # a care-team membership without an end


def _micros(values: pd.Series) -> pd.Series:
    return ((values - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).astype("Int64")


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)


def duckdb_tables(frames: Frames) -> dict[str, pd.DataFrame]:
    e, w, n, c = frames.events, frames.workforce, frames.encounters, frames.care_team
    o, b, d = frames.orders, frames.appointments, frames.authored
    return {
        # contract version 2: orders, appointments, documents signed
        "ord": pd.DataFrame({"patient_id": o["patient_id"], "ordering_id": o["ordering_id"],
                             "department": _text(o["performing_department"]), "placed_us": _micros(o["placed_at"]),
                             "done_us": _micros(o["completed_at"].fillna(o["placed_at"]))}),
        "apt": pd.DataFrame({"patient_id": b["patient_id"], "provider_id": b["provider_id"],
                             "department": _text(b["department"]), "status": _text(b["status"]),
                             "booked_us": _micros(b["booked_at"]), "scheduled_us": _micros(b["scheduled_for"])}),
        "doc": pd.DataFrame({"patient_id": d["patient_id"], "author_id": d["author_id"],
                             "signed_us": _micros(d["signed_at"])}),
        "ev": pd.DataFrame({"at_us": _micros(e["at"]), "user_id": _text(e["user_id"]), "source": _text(e["source"]),
                            "event_role": _text(e["event_role"]), "action": _text(e["action"]),
                            "patient_id": e["patient_id"], "record_type": _text(e["record_type"]),
                            "outcome": _text(e["outcome"]), "break_glass": e["break_glass"]}),
        "wf": pd.DataFrame({"user_id": _text(w["user_id"]), "workforce_id": w["workforce_id"],
                            "role": _text(w["role"]), "department": _text(w["department"]),
                            "shift_start": w["shift_start"], "shift_end": w["shift_end"]}),
        "enc": pd.DataFrame({"patient_id": n["patient_id"], "department": _text(n["department"]),
                             "attending_id": n["attending_id"], "start_us": _micros(n["start"]),
                             "end_us": _micros(n["end"])}),
        "ct": pd.DataFrame({"patient_id": c["patient_id"], "workforce_id": c["workforce_id"],
                            "start_us": _micros(c["start"]), "end_us": _micros(c["end"])}),
    }


def _sql_list(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


def _activity_sql(policy: Policy, period: Period) -> str:
    """activity = successful events of workforce accounts in the period, with the user's record and
    local time; accesses = those that touch a patient (the engine's DetectionContext)."""
    first, last = int(period.start.value // 1000), int(period.end.value // 1000)
    return f"""
    SET TimeZone = 'UTC';
    CREATE OR REPLACE TEMP TABLE act AS
      SELECT e.at_us, e.user_id, e.patient_id, e.action, e.record_type, e.break_glass,
             timezone('{period.tz.key}', make_timestamp(e.at_us)::TIMESTAMPTZ) AS local_at,
             w.workforce_id, coalesce(w.role, e.event_role) AS role, w.department, w.shift_start, w.shift_end
      FROM ev e LEFT JOIN wf w ON w.user_id = e.user_id
      WHERE e.outcome = 'success' AND e.user_id IS NOT NULL
        AND NOT (e.source = '{OWN_SOURCE}' AND coalesce(e.event_role, '') = '{SERVICE_ROLE}')
        AND e.at_us >= {first} AND e.at_us < {last};
    CREATE OR REPLACE TEMP TABLE acc AS
      SELECT * FROM act WHERE patient_id IS NOT NULL AND action IN ({_sql_list(policy.settings.access_actions)});
    """


def _no_treatment_sql(x) -> str:
    """Unexplained, not break-glass: no care team at t, no attending or department link in the clinical
    window, no order, appointment or signed document of version 2 in its window, no operational role in
    the operational window of an encounter or appointment (never for sensitive record types)."""
    cancelled = _sql_list(x.cancelled_statuses)
    def clinical(on: str) -> str:
        return f"""EXISTS (SELECT 1 FROM enc n WHERE n.patient_id = a.patient_id AND {on} AND a.at_us
            BETWEEN n.start_us - {x.clinical_days_before * DAY_US} AND n.end_us + {x.clinical_days_after * DAY_US})"""

    return f"""
    SELECT count(*) FROM acc a WHERE NOT a.break_glass AND NOT (
      EXISTS (SELECT 1 FROM ct t WHERE t.patient_id = a.patient_id AND t.workforce_id = a.workforce_id
              AND a.at_us BETWEEN t.start_us AND coalesce(t.end_us, {OPEN_END_US}))
      OR {clinical("n.attending_id = a.workforce_id")}
      OR {clinical("n.department = a.department")}
      OR EXISTS (SELECT 1 FROM ord o WHERE o.patient_id = a.patient_id
                 AND (o.ordering_id = a.workforce_id OR o.department = a.department) AND a.at_us
                 BETWEEN o.placed_us - {x.order_days_before * DAY_US} AND o.done_us + {x.order_days_after * DAY_US})
      OR EXISTS (SELECT 1 FROM apt b WHERE b.patient_id = a.patient_id AND b.status NOT IN ({cancelled})
                 AND (b.provider_id = a.workforce_id OR b.department = a.department) AND a.at_us BETWEEN
                 b.booked_us - {x.appointment_days_before * DAY_US} AND b.scheduled_us + {x.appointment_days_after * DAY_US})
      OR EXISTS (SELECT 1 FROM doc d WHERE d.patient_id = a.patient_id AND d.author_id = a.workforce_id AND a.at_us
                 BETWEEN d.signed_us - {x.document_days_before * DAY_US} AND d.signed_us + {x.document_days_after * DAY_US})
      OR (a.role IN ({_sql_list(x.operational_roles)})
          AND coalesce(a.record_type, '') NOT IN ({_sql_list(x.sensitive_record_types)})
          AND (EXISTS (SELECT 1 FROM enc n WHERE n.patient_id = a.patient_id AND a.at_us BETWEEN
                       n.start_us - {x.operational_days_before * DAY_US} AND n.end_us + {x.operational_days_after * DAY_US})
               OR EXISTS (SELECT 1 FROM apt b WHERE b.patient_id = a.patient_id AND b.status NOT IN ({cancelled})
                          AND a.at_us BETWEEN b.booked_us - {x.operational_days_before * DAY_US}
                          AND b.scheduled_us + {x.operational_days_after * DAY_US}))))
    """


def duckdb_sql(policy: Policy, period: Period) -> dict[str, str]:
    """The three rules as SQL with the engine's parameters and windows (interchange contract)."""
    p = {r: policy.rules[r].parameters for r in THREE}
    tolerance = p["after-hours"]["tolerance_minutes"]  # minutes outside the shift, around the clock
    after_hours = f"""
    WITH m AS (SELECT shift_start AS s, (((shift_end - shift_start) % 1440) + 1440) % 1440 AS span,
                      hour(local_at) * 60 + minute(local_at) + second(local_at) / 60.0 AS at_minute
               FROM act WHERE shift_start IS NOT NULL AND shift_end IS NOT NULL),
         o AS (SELECT CASE WHEN span = 0 THEN 1440 ELSE span END AS span,
                      fmod(fmod(at_minute - s, 1440) + 1440, 1440) AS offset_ FROM m)
    SELECT count(*) FROM o WHERE offset_ > span AND least(offset_ - span, 1440 - offset_) > {tolerance}
    """
    volume = p["excessive-volume"]
    excessive = f"""
    WITH d AS (SELECT user_id, CAST(local_at AS DATE) AS day, coalesce(role, '') AS role,
                      coalesce(department, '') AS department, count(DISTINCT patient_id) AS patients
               FROM acc GROUP BY ALL),
         f AS (SELECT user_id, day, patients, median(patients) OVER (PARTITION BY role, department) AS peer FROM d)
    SELECT count(*) FROM acc JOIN f ON acc.user_id = f.user_id AND CAST(acc.local_at AS DATE) = f.day
    WHERE f.patients >= {volume["peer_multiple"]} * f.peer AND f.patients >= {volume["minimum_patients"]}
    """
    return {"setup": _activity_sql(policy, period), "after-hours": after_hours,
            "no-treatment-relationship": _no_treatment_sql(policy.settings.explanations), "excessive-volume": excessive}


def run_duckdb(frames: Frames, policy: Policy) -> tuple[float, dict[str, int], float]:
    """DuckDB over the frames: (seconds, flagged events per rule, seconds spent preparing its input)."""
    started = time.perf_counter()
    tables = duckdb_tables(frames)
    prepared = time.perf_counter() - started
    sql = duckdb_sql(policy, frames.period)
    started = time.perf_counter()
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    con.execute(sql["setup"])
    counts = {rule: int(con.execute(sql[rule]).fetchone()[0]) for rule in THREE}
    con.close()
    return time.perf_counter() - started, counts, prepared
