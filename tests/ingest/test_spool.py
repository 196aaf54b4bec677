"""The listener's spool (auditor.ingest.spool): messages come back in order after the cursor; a torn
last record (a batch a kill left unsynced) is cut off when the spool opens again, never the records
before it; a damaged record in the middle is an error, never skipped; the files are 0600."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from auditor.ingest.spool import CURSOR, SPOOL, Spool, SpoolDamaged

KEY = b"k" * 32  # the log MAC key the spool's keys are derived from


def test_messages_come_back_in_order_after_the_cursor(tmp_path):
    spool = Spool(tmp_path / "s", KEY)
    spool.append([b"one", b"two"])
    spool.append([b"three"])
    got = list(spool.pending())
    assert [m for _, m in got] == [b"one", b"two", b"three"]
    spool.advance(got[1][0])
    assert [m for _, m in spool.pending()] == [b"three"]
    assert [m for _, m in Spool(tmp_path / "s", KEY).pending()] == [b"three"]  # the cursor is on disk
    assert os.stat(tmp_path / "s" / SPOOL).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "s" / CURSOR).st_mode & 0o777 == 0o600
    spool.advance(got[2][0])
    spool.compact()
    assert spool.size == 0 and list(spool.pending()) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=8), st.data())
def test_a_torn_last_record_is_cut_off_and_nothing_before_it(tmp_path_factory, messages, data):
    folder = tmp_path_factory.mktemp("spool")
    Spool(folder, KEY).append(messages)
    whole = (folder / SPOOL).read_bytes()
    last = 8 + 12 + len(messages[-1]) + 16  # length and CRC, nonce, the sealed message and its tag
    keep = data.draw(st.integers(len(whole) - last, len(whole) - 1))  # the last record cut anywhere
    torn = whole[:keep] + data.draw(st.sampled_from([b"", b"\0" * (len(whole) - keep)]))  # or zeros in its place
    (folder / SPOOL).write_bytes(torn)
    kept = messages if torn == whole else messages[:-1]  # zeros where zeros were: nothing was torn
    reopened = Spool(folder, KEY)
    assert [m for _, m in reopened.pending()] == kept
    reopened.append([b"after"])
    assert [m for _, m in reopened.pending()] == kept + [b"after"]


def test_a_damaged_record_in_the_middle_is_an_error_never_skipped(tmp_path):
    Spool(tmp_path, KEY).append([b"first message", b"second message", b"third"])
    data = bytearray((tmp_path / SPOOL).read_bytes())
    data[10] ^= 0xFF  # inside the first message
    (tmp_path / SPOOL).write_bytes(bytes(data))
    with pytest.raises(SpoolDamaged, match="the record at byte 0 does not match its checksum"):
        Spool(tmp_path, KEY)


def test_a_compaction_never_cuts_off_an_append_made_meanwhile(tmp_path):
    """The listener appends in one thread while its ingest compacts in another. An append that comes
    between compaction's check (everything ingested) and its truncation must not be cut off: here it
    is made to come exactly there, and it is still pending afterwards."""
    import threading

    class Interleaved(Spool):
        armed = 0  # the size read that comes after compaction has compared the cursor with the size

        @property
        def size(self) -> int:
            self.armed -= 1
            if self.armed == 0:  # inside compact, the check passed: another thread appends now
                late = threading.Thread(target=self.append, args=([b"late"],))
                late.start()
                late.join(0.5)  # with the lock it waits for the compaction; without it, it lands now
            return os.fstat(self._fd).st_size

    spool = Interleaved(tmp_path, KEY)
    spool.append([b"early"])
    spool.advance(next(spool.pending())[0])
    spool.armed = 3  # compact reads the size in the cursor, in the comparison, then once more
    spool.compact()
    time_left = 50
    while time_left and not list(spool.pending()):
        time_left -= 1
        threading.Event().wait(0.02)
    assert [m for _, m in spool.pending()] == [b"late"]


def test_nothing_of_a_message_is_on_disk_in_the_clear_and_another_key_reads_nothing(tmp_path):
    message = b"<AuditMessage><ParticipantObjectName>Vera Star</ParticipantObjectName></AuditMessage>"
    Spool(tmp_path, KEY).append([message])
    assert b"Vera" not in (tmp_path / SPOOL).read_bytes()
    assert [m for _, m in Spool(tmp_path, KEY).pending()] == [message]
    with pytest.raises(SpoolDamaged, match="was not sealed with this vault's key"):
        list(Spool(tmp_path, b"another vault's key").pending())
