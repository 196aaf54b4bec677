"""RFC 5425 octet-counted frames and RFC 5424 messages (auditor.ingest.syslog): a stream split anywhere
gives the same frames; a stream that is not frames is refused; ATNA's MSGID and MSG are found after
any structured data, a byte order mark dropped."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from auditor.ingest.syslog import (ATNA_MSGID, FrameError, SyslogError, atna_syslog, frame, parse_message,
                                   take_frames)


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=20), st.lists(st.integers(1, 50), max_size=40))
def test_a_stream_split_anywhere_gives_the_same_frames(messages, cuts):
    stream = b"".join(frame(m) for m in messages)
    buffer, got, at = bytearray(), [], 0
    for cut in cuts + [len(stream)]:
        buffer += stream[at : at + cut]
        at += cut
        got += take_frames(buffer)
    buffer += stream[at:]
    got += take_frames(buffer)
    assert got == messages and buffer == bytearray()


@pytest.mark.parametrize("stream,message", [
    (b"<85>1 - host app - IHE+RFC-3881 - <AuditMessage/>", "does not start with its length"),
    (b"012 abc", "does not start with its length"),
    (b"123456789012 x", "does not start with its length"),
    (b"9999999 x", "longer than"),
])
def test_a_stream_that_is_not_frames_is_refused(stream, message):
    with pytest.raises(FrameError, match=message):
        take_frames(bytearray(stream))


def test_a_length_still_arriving_waits():
    buffer = bytearray(b"12")
    assert take_frames(buffer) == [] and buffer == bytearray(b"12")


@pytest.mark.parametrize("message,msgid,body", [
    (atna_syslog(b"<AuditMessage/>"), ATNA_MSGID, b"<AuditMessage/>"),
    (b'<13>1 2026-11-05T08:10:00Z pacs app 77 IHE+RFC-3881 [origin ip="10.0.0.1"][x a="b\\]c"] <A/>',
     ATNA_MSGID, b"<A/>"),
    (b"<13>1 - - - - other - hello", "other", b"hello"),
    (b"<13>1 - - - - IHE+RFC-3881 -", ATNA_MSGID, b""),
])
def test_rfc_5424_messages_give_their_msgid_and_msg(message, msgid, body):
    assert parse_message(message) == (msgid, body)


@pytest.mark.parametrize("message,reason", [
    (b"<AuditMessage/>", "no <PRI>"), (b"<999>1 - - - - x - y", "no <PRI>"),
    (b"<13>2 - - - - x - y", "another version"), (b"<13>1 - -", "header ends early"),
    (b'<13>1 - - - - x [a b="c] y', "does not end"), (b"<13>1 - - - - x y z", "without its structured data"),
])
def test_what_is_not_rfc_5424_is_refused_with_a_reason(message, reason):
    with pytest.raises(SyslogError, match=reason):
        parse_message(message)


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_refused_never_a_crash(data):
    try:
        parse_message(data)
    except SyslogError:
        pass
    try:
        take_frames(bytearray(data))
    except FrameError:
        pass
