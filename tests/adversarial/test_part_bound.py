"""Whoever types `--part-events` picks how a role is cut, never what is found: the smallest bound (every
peer group a part of its own, every role split that can be) and one past any month give the local
engine's findings file, byte for byte; a bound that is no number of events is refused in one line."""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import MONTH_FROM, MONTH_TO

NOVEMBER = ["findings", "--from", MONTH_FROM, "--to", MONTH_TO, "--format", "json"]


@pytest.mark.parametrize("bound", ["1", str(10**30)])
def test_any_bound_gives_the_findings_of_the_whole_month(attacked_home, auditor, tmp_path, bound):
    whole = auditor(*NOVEMBER, "--out", tmp_path / "whole.json", user="investigator")
    parts = auditor(*NOVEMBER, "--out", tmp_path / "parts.json", "--engine", "partitioned", "--part-events", bound,
                    user="investigator")
    assert whole.code == parts.code == 0, whole.err + parts.err
    assert (tmp_path / "parts.json").read_bytes() == (tmp_path / "whole.json").read_bytes()
    assert len((tmp_path / "whole.json").read_text()) > 100


@pytest.mark.parametrize("bound", ["-5", "1e9", "2,000,000", ""])
def test_a_bound_that_is_no_count_is_refused_in_one_line(attacked_home, auditor, tmp_path, bound):
    done = auditor(*NOVEMBER, "--out", tmp_path / "parts.json", "--engine", "partitioned", "--part-events", bound,
                   user="investigator")
    assert done.code == 2 and len(done.err.strip().splitlines()) == 1 and "--part-events" in done.err
    assert not (tmp_path / "parts.json").exists()
