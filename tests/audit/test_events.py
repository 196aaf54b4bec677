"""The canonical form of an event: the bytes the leaf hash covers (a log format, so pinned here)."""

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from auditor.audit.events import CANONICAL_COLUMNS, CANONICAL_VERSION, canonical_bytes, from_microseconds, to_microseconds

BYTES_COLUMNS = {"source_row_hash", "reason"}


def reference(values: tuple) -> bytes:
    """The definition, column by column by name (the module spells it out by position for speed)."""
    items: list = [CANONICAL_VERSION]
    for name, value in zip(CANONICAL_COLUMNS, values, strict=True):
        if name in BYTES_COLUMNS:
            items.append(None if value is None else bytes(value).hex())
        elif name == "break_glass":
            items.append(bool(value))
        else:
            items.append(value)
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def column(name: str):
    text = st.one_of(st.none(), st.text(max_size=40))
    if name in BYTES_COLUMNS:
        return st.one_of(st.none(), st.binary(max_size=64))
    if name == "break_glass":
        return st.one_of(st.booleans(), st.sampled_from([0, 1]))
    if name in ("seq", "at_us", "patient_id"):
        return st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
    return text


@given(st.tuples(*(column(name) for name in CANONICAL_COLUMNS)))
def test_canonical_bytes_match_the_definition(values):
    assert canonical_bytes(values) == reference(values)


def test_a_known_event_has_known_bytes():
    values = (7, 1_700_000_000_000_000, "vault", None, b"\x01\xff", "dr.é", "physician", "view", 42, "chart", None,
              "demographics", "TREAT", 1, None, "success", "care team", "WS-1")
    assert canonical_bytes(values) == (
        '["auditor-event/1",7,1700000000000000,"vault",null,"01ff","dr.é","physician","view",42,"chart",null,'
        '"demographics","TREAT",true,null,"success","care team","WS-1"]').encode()


@given(st.binary(min_size=0, max_size=100), st.binary(max_size=80))
def test_event_seal_is_hmac_sha256(key, leaf):
    import hashlib
    import hmac

    from auditor.audit.seal import EventSeal

    seal = EventSeal(key)
    assert seal(leaf) == hmac.new(key, leaf, hashlib.sha256).digest()
    assert seal.matches(leaf, seal(leaf)) and not seal.matches(leaf + b"x", seal(leaf))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.one_of(st.none(), st.timezones(), st.builds(lambda m: timezone(timedelta(minutes=m)),
                                                                             st.integers(-1439, 1439)))))
def test_microseconds_are_the_times_difference_from_the_epoch_in_utc(at):
    """The stored time of an event (and of everything the gateway writes): to_microseconds subtracts
    an aware time from the epoch directly; the reference converts to UTC first, as it did. A naive
    time is the machine's local time either way."""
    delta = at.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert to_microseconds(at) == (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert from_microseconds(to_microseconds(at)) == at.astimezone(timezone.utc)
