"""The vendor reader under hypothesis: an extract of good records with bad ones among them (no user, a
time that is empty or that the mapping's format does not read, an action code of a type the mapping
does not name, a value over MAX_FIELD characters, a last record cut short) is read without an error;
each bad record is quarantined with the number of its first line and its reason, and every good
record around them loads with its values. The values are any text (delimiters, quotes and line
breaks inside quoted values included), written by csv as an extract would be.

A value over MAX_FIELD is read to the end of its quotes (csv reads up to MAX_VALUE_READ) and its record
refused whole: the lines of a quoted value are never read as records of their own, which could load as
events nobody made. A quoted value that never closes within MAX_VALUE_READ leaves the rest of the file
as one refused record."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.ingest.formats import reader
from auditor.ingest.formats.vendor import KEPT_OF_THE_REST, MAX_FIELD, MAX_VALUE_READ
from tests.ingest.formats.vendor_data import ACTIONS, COLUMNS, write_site_policies

ZONE = ZoneInfo("America/New_York")
TIME = "%m/%d/%Y %H:%M:%S"  # the site mapping's one time format
CODES = {code.casefold() for code in ACTIONS.values()}
# any text, the delimiter, quotes and line breaks often (csv quotes them); not a lone CR, which ends a line
TEXT = st.text(st.one_of(st.sampled_from('|"\n '), st.characters(blacklist_categories=["Cs"],
                                                                 blacklist_characters="\r\x00")), max_size=12)
BLANK = st.text(st.sampled_from(" \t\u00a0\u3000"), max_size=3)
BAD = {"no user": "no user \\(the mapping's user_id is empty\\)",
       "no time": "no time \\(the mapping's time column is empty\\)",
       "unreadable time": "a time none of the mapping's 1 format\\(s\\) reads",
       "wrong type": "an action code the mapping does not name",
       "over-long": f"a value over {MAX_FIELD:,} characters",
       "cut short": "\\d+ values: too few for the columns the mapping reads|not a readable record \\(.+\\)"}


def _unreadable(text: str) -> bool:
    try:
        datetime.strptime(text.strip(), TIME)
    except ValueError:
        return bool(text.strip())
    return False


def _record(draw, seq: str, kind: str) -> tuple[list[str], dict]:
    """The values of a record (COLUMNS' order) that is good or has `kind` wrong, and the event a good
    one gives."""
    at = draw(st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31))).replace(microsecond=0)
    action = draw(st.sampled_from(sorted(ACTIONS)))
    code = ACTIONS[action]
    values = {"AuditSeq": seq, "UserMnemonic": draw(TEXT.filter(str.strip)), "PatientAcct": draw(TEXT),
              "AccessDate": at.strftime(TIME), "Func": draw(st.sampled_from([code, code.lower(), f" {code} "])),
              "Screen": draw(TEXT), "Result": draw(TEXT), "Purpose": draw(TEXT), "Override": draw(TEXT),
              "OverrideText": draw(TEXT), "Terminal": draw(TEXT)}
    if kind == "no user":
        values["UserMnemonic"] = draw(BLANK)
    elif kind == "no time":
        values["AccessDate"] = draw(BLANK)
    elif kind == "unreadable time":
        values["AccessDate"] = draw(st.one_of(TEXT, st.just(at.strftime("%d/%m/%Y %H:%M"))).filter(_unreadable))
    elif kind == "wrong type":
        values["Func"] = draw(TEXT.filter(lambda t: t.strip().casefold() not in CODES))
    elif kind == "over-long":
        values[draw(st.sampled_from(COLUMNS))] = "x" * draw(st.integers(MAX_FIELD + 1, MAX_FIELD + 4096))
    event = {"event_id": seq, "user_id": values["UserMnemonic"].strip(), "mrn": values["PatientAcct"].strip() or None,
             "at_us": int(at.replace(tzinfo=ZONE).timestamp()) * 1_000_000, "action": action,
             "reason": values["OverrideText"].strip() or None, "workstation": values["Terminal"].strip() or None}
    return [values[c] for c in COLUMNS], event


def _written(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter="|", lineterminator="\n").writerow(values)
    return out.getvalue()


@st.composite
def extracts(draw) -> tuple[str, list[dict], list[tuple[int, str]]]:
    """(the extract's text, the events of its good records, (line, reason) of its bad ones): good
    records and at least one bad one, the last perhaps cut short (without its end of line)."""
    kinds = draw(st.lists(st.one_of(st.just("good"), st.sampled_from(sorted(set(BAD) - {"cut short"}))), max_size=10))
    cut_short = draw(st.booleans())
    if not cut_short and set(kinds) <= {"good"}:
        kinds.insert(draw(st.integers(0, len(kinds))), draw(st.sampled_from(sorted(set(BAD) - {"cut short"}))))
    text, line, good, bad = "|".join(COLUMNS) + "\n", 2, [], []
    for i, kind in enumerate(kinds + ["cut short"] * cut_short):
        values, event = _record(draw, f"G{i}", kind)
        written = _written(values)
        if kind == "cut short":  # ends before its last value begins, often just inside a quoted value
            end = len(_written([*values[:-1], ""])) - 2
            inside = [i + 1 for i, c in enumerate(written[:end]) if c in '"\n']
            written = written[:draw(st.one_of(st.integers(1, end), *[st.sampled_from(inside)] * bool(inside)))]
        if kind == "good":
            good.append(event)
        else:
            bad.append((line, BAD[kind]))
        text += written
        line += written.count("\n")
    return text, good, bad


def _read(folder, text: str):
    site = write_site_policies(folder / "site")
    extract = folder / "audit.txt"
    extract.write_bytes(text.encode("utf-8"))
    read = reader("meditech-audit", site)
    chunks = [c for f in read.files(extract) for c in read.chunks(f, ZONE)]
    return [row for c in chunks for row in c.events.to_pylist()], [e for c in chunks for e in c.rejected], chunks


def _check(folder, text: str, good: list[dict], bad: list[tuple[int, str]]) -> None:
    events, refused, chunks = _read(folder, text)
    assert [r.line for r in refused] == [line for line, _ in bad], [(r.line, r.reason) for r in refused]
    for entry, (_, reason) in zip(refused, bad):
        assert re.fullmatch(reason, entry.reason), (entry.line, entry.reason)
    assert len(events) == len(good)
    assert [{k: e[k] for k in want} for e, want in zip(events, good)] == good
    assert sum(c.records for c in chunks) == len(good) + len(bad)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(extracts())
def test_bad_records_are_quarantined_with_their_line_and_the_good_ones_around_them_load(tmp_path_factory, extract):
    _check(tmp_path_factory.mktemp("fuzz"), *extract)


def test_each_kind_of_bad_record_among_good_ones(tmp_path):
    """One of each, between good records, the last cut short inside a quoted value with a line break."""
    good = ["G0", "U1", "MRN-1", "11/03/2026 09:15:02", "V", "DOC", "OK", "TREAT", "N", "", "T1"]
    rows = [good, ["G1", " ", *good[2:]], good[:3] + ["", *good[4:]], good[:3] + ["31/12/2026 09:15", *good[4:]],
            good[:4] + ["VIEW", *good[5:]], good[:9] + ["x" * (MAX_FIELD + 1), "T1"],
            ["G6", 'U "6"', "MRN|6", *good[3:9], "line one\nline two", "T6"],
            ["G7", "U7", "MRN-7", *good[3:8], "Y", "a reason\nof two lines", "T7"]]
    text = "|".join(COLUMNS) + "\n" + "".join(map(_written, rows))
    text = text[:text.index("of two")]  # the last record ends inside its quoted reason
    moment = int(datetime(2026, 11, 3, 14, 15, 2, tzinfo=timezone.utc).timestamp()) * 1_000_000  # 09:15:02 EST
    events = [{"event_id": "G0", "user_id": "U1", "at_us": moment},
              {"event_id": "G6", "user_id": 'U "6"', "mrn": "MRN|6", "reason": "line one\nline two", "at_us": moment}]
    assert _read(tmp_path, text)[1][-1].reason == "not a readable record (unexpected end of data)"
    _check(tmp_path / "again", text, events, [(3, BAD["no user"]), (4, BAD["no time"]), (5, BAD["unreadable time"]),
                                              (6, BAD["wrong type"]), (7, BAD["over-long"]), (10, BAD["cut short"])])


def test_the_lines_of_a_value_too_long_are_never_read_as_records(tmp_path):
    """A quoted value past csv's own default limit (128 KiB), holding what looks like a record on a line
    of its own: the record is refused whole, the look-alike never loads, the record after it does."""
    good = ["G0", "U1", "MRN-1", "11/03/2026 09:15:02", "V", "DOC", "OK", "TREAT", "N", "", "T1"]
    forged = _written(["FORGED", "U9", "MRN-9", *good[3:]]).rstrip("\n")
    long = "x" * (3 * MAX_FIELD) + "\n" + forged + "\n" + "y" * (3 * MAX_FIELD)
    rows = [good, [*good[:9], long, "T1"], ["G2", *good[1:]]]
    text = "|".join(COLUMNS) + "\n" + "".join(map(_written, rows))
    events, refused, _ = _read(tmp_path, text)
    assert [e["event_id"] for e in events] == ["G0", "G2"]
    assert [(r.line, r.reason) for r in refused] == [(3, f"a value over {MAX_FIELD:,} characters")]


def test_a_quoted_value_that_never_closes_leaves_the_rest_of_the_file_unread_and_kept(tmp_path):
    good = ["G0", "U1", "MRN-1", "11/03/2026 09:15:02", "V", "DOC", "OK", "TREAT", "N", "", "T1"]
    rest = "".join(_written([f"R{n}", *good[1:]]) for n in range(3))
    text = "|".join(COLUMNS) + "\n" + _written(good) + '"G1|U1|' + "z" * MAX_VALUE_READ + "\n" + rest
    events, refused, _ = _read(tmp_path, text)
    assert [e["event_id"] for e in events] == ["G0"]  # nothing after the unclosed quote is taken for a record
    assert [(r.line, r.reason) for r in refused] == [
        (3, "a value over 16 MiB: a quoted value never closed? The rest of the file, from this line, is not read")]
    assert refused[0].raw_row.startswith('"G1|U1|zzz') and len(refused[0].raw_row) <= KEPT_OF_THE_REST
