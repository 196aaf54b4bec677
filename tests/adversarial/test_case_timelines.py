"""An attacker with write access to records.db against the case page's kept timelines (r0017): each
part is sealed under the log's MAC key, so an edited or moved part is refused in one line, and a
deleted part hides nothing (the page reads the log for what no part covers)."""

from __future__ import annotations

import json
import zlib

import pytest

from auditor.cases.settings import CaseSettings
from auditor.cases.timelines import AlteredTimeline
from auditor.home import Vault
from auditor.review.casework import case_file, list_cases
from auditor.review.timeline import member_timeline
from tests.adversarial.conftest import records_db
from tests.adversarial.test_audit_log import findings


def _timelines(home, stored: bool = True) -> dict[int, list[tuple]]:
    vault = Vault.open(home)
    try:
        out = {}
        for c in list_cases(vault, CaseSettings())[:8]:
            timeline = member_timeline(vault, case_file(vault, c.id, CaseSettings()), stored=stored)
            out[c.id] = [(e.seq, e.explained_by, e.cited) for e in timeline.entries]
        return out
    finally:
        vault.close()


@pytest.fixture
def reviewed(attacked_home, auditor, tmp_path):
    findings(auditor, tmp_path)  # the month's findings into cases, each with a kept part of its timeline
    with records_db(attacked_home) as conn:
        parts = conn.execute("SELECT count(*), count(DISTINCT case_id) FROM case_timelines").fetchone()
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    assert parts == (cases, cases) and cases > 5
    return attacked_home


def test_a_kept_part_with_an_access_taken_out_is_refused(reviewed):
    before = _timelines(reviewed)
    case_id, entries = next((c, e) for c, e in before.items() if len(e) > 2)
    with records_db(reviewed) as conn:
        part_id, body = conn.execute("SELECT id, body FROM case_timelines WHERE case_id = ?", (case_id,)).fetchone()
        doc = json.loads(zlib.decompress(body))
        doc["entries"] = [e for e in doc["entries"] if e[0] != entries[0][0]]  # the seal stays as it was
        doc["total"] -= 1
        conn.execute("UPDATE case_timelines SET body = ? WHERE id = ?", (zlib.compress(json.dumps(doc).encode()), part_id))
    with pytest.raises(AlteredTimeline, match=rf"case {case_id}: stored timeline part {part_id} does not match its seal"):
        _timelines(reviewed)


def test_an_explanation_written_into_a_kept_part_is_refused(reviewed):
    before = _timelines(reviewed)
    case_id = next(c for c, e in before.items() if any(why is None for _, why, _ in e))
    with records_db(reviewed) as conn:
        part_id, body = conn.execute("SELECT id, body FROM case_timelines WHERE case_id = ?", (case_id,)).fetchone()
        doc = json.loads(zlib.decompress(body))
        for e in doc["entries"]:
            e[8] = e[8] or "care team"
        conn.execute("UPDATE case_timelines SET body = ? WHERE id = ?", (zlib.compress(json.dumps(doc).encode()), part_id))
    with pytest.raises(AlteredTimeline):
        _timelines(reviewed)


def test_a_part_moved_to_another_case_is_refused(reviewed):
    before = _timelines(reviewed)
    quiet, busy = sorted(before, key=lambda c: len(before[c]))[:2]
    with records_db(reviewed) as conn:  # the quiet member's part shown on the busy member's case
        conn.execute("DELETE FROM case_timelines WHERE case_id = ?", (busy,))
        conn.execute("UPDATE case_timelines SET case_id = ? WHERE case_id = ?", (busy, quiet))
    with pytest.raises(AlteredTimeline, match=rf"case {busy}: stored timeline part \d+ does not match its seal"):
        _timelines(reviewed)


def test_deleted_parts_hide_no_access(reviewed):
    before = _timelines(reviewed)
    assert before == _timelines(reviewed, stored=False)  # the kept parts say what the log says
    with records_db(reviewed) as conn:
        conn.execute("DELETE FROM case_timelines")
    assert _timelines(reviewed) == before  # read from the log again


def test_a_forged_seal_is_refused_in_one_line_that_names_no_patient(reviewed):
    """The case page shows the refusal as it is (auditor.web.routing: an AuditorError is a 400 with
    its message), so the message is one line of ids."""
    before = _timelines(reviewed)
    case_id = next(iter(before))
    with records_db(reviewed) as conn:
        conn.execute("UPDATE case_timelines SET seal = zeroblob(32) WHERE case_id = ?", (case_id,))
    with pytest.raises(AlteredTimeline) as refused:
        _timelines(reviewed)
    message = str(refused.value)
    assert "\n" not in message and "MRN" not in message and "run auditor audit verify" in message
