"""bench/interop.py at a small size: CSV, FHIR and ATNA over TLS on loopback all run, the counts add
up (every message sent is an event in the log) and the figures are printed. Rates are printed by the
benchmark, never asserted here."""

from __future__ import annotations

import json

from tests.bench.test_policy_benchmark import _module


def test_the_interop_benchmark_runs_every_path_and_loses_nothing(capsys):
    interop = _module("interop")
    assert interop.main(["--events", "20000", "--seconds", "2", "--rate", "500"]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["csv"]["rows"] == figures["fhir"]["events"] == figures["fhir"]["loaded"] == figures["events"]
    assert figures["atna"]["sent"] == figures["atna"]["loaded"] == 1000 and figures["atna"]["nothing_lost"]
    assert figures["atna"]["in_log"] == figures["atna"]["distinct_in_log"] == 1000  # counted in the log itself
    assert "of CSV" in out and "nothing lost" in out
