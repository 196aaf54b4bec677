"""Hostile records, fuzzed, among good ones (issue 17): JSON nested past any parser's limit, records
over the size limit, billion laughs and external entities, a DTD in UTF-16, bytes that are not UTF-8,
good records cut anywhere. No reader crashes, each hostile record is quarantined whole with a reason
that quotes nothing of it, and every good record around it loads."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st

from auditor.ingest.formats.atna import AtnaMessages
from auditor.ingest.formats.fhir import FhirAuditEvents
from tests.ingest.formats.fhir_data import audit_event

UTC = ZoneInfo("UTC")
LIMIT = 4000  # bytes: a line, a message (small, so records over it are cheap to make)
FHIR = FhirAuditEvents(max_line=LIMIT, max_document=LIMIT, parallel_from=1 << 62)  # read here
ATNA = AtnaMessages(max_message=LIMIT)
MARK = "QX7Z"  # in every hostile record: no reason may quote it


def _fhir_event(n: int) -> dict:
    row = {"event_id": f"good{n}", "timestamp": "2026-11-05T08:10:00Z", "user_id": "u1", "mrn": "MRN1",
           "action": "view", "record_type": "note", "outcome": "success", "purpose_of_use": "TREAT",
           "break_glass": "false", "reason": "", "workstation": "WS-1"}
    return audit_event(row, UTC)


def _atna_message(n: int) -> bytes:
    return (f'<AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-11-05T08:10:0{n}Z" '
            'EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>'
            '</EventIdentification><ActiveParticipant UserID="u1" UserIsRequestor="true"/>'
            '<AuditSourceIdentification AuditSourceID="PACS"/><ParticipantObjectIdentification '
            'ParticipantObjectID="MRN1" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">'
            '<ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/>'
            '</ParticipantObjectIdentification></AuditMessage>').encode()


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + MARK + '"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
          '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><{root}>&c;</{root}>')
XXE = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><{root} id="' + MARK + '">&x;</{root}>'

depth = st.integers(1025, 5000)  # past orjson's 1,024 levels, and Python's default recursion limit
hostile_lines = st.one_of(
    depth.map(lambda n: b'{"' + MARK.encode() + b'":' * n + b"1" + b"}" * n),
    depth.map(lambda n: b"[" * n + MARK.encode().join([b"", b""]) + b"]" * n),
    st.integers(LIMIT + 1, 3 * LIMIT).map(
        lambda n: b'{"resourceType":"AuditEvent","id":"' + MARK.encode() * (n // 4) + b'"}'),
    st.binary(min_size=1, max_size=80).map(lambda b: MARK.encode() + b.replace(b"\n", b"")),
    st.sampled_from([LAUGHS, XXE]).map(lambda t: t.format(root="AuditEvent").encode()),
    st.integers(1, 400).map(lambda n: json.dumps({**_fhir_event(9), "id": MARK}).encode()[:n]),
    st.just(json.dumps({**_fhir_event(9), "id": MARK, "agent": []}).encode()),  # names no user
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_lines, min_size=1, max_size=5))
def test_hostile_ndjson_lines_are_quarantined_and_the_good_ones_around_them_load(tmp_path, lines):
    file = tmp_path / "feed.ndjson"
    first, last = (json.dumps(_fhir_event(n)).encode() for n in (1, 2))
    file.write_bytes(b"\n".join([first, *lines, last]) + b"\n")
    events, rejected, records = _read(FHIR, file)
    assert [e["event_id"] for e in events] == ["good1", "good2"]
    assert records == 2 + len(lines) and sorted(r.line for r in rejected) == list(range(2, 2 + len(lines)))
    assert all(MARK not in r.reason and "\n" not in r.reason for r in rejected)


hostile_xml = st.one_of(
    st.sampled_from([LAUGHS, XXE]).flatmap(
        lambda t: st.sampled_from(["utf-8", "utf-16"]).map(lambda enc: t.format(root="{root}").encode(enc))),
    depth.map(lambda n: ("<{root}>" + "<a>" * n + MARK + "</a>" * n + "</{root}>").encode()),
    st.integers(LIMIT + 1, 3 * LIMIT).map(lambda n: ('<{root} id="' + MARK * (n // 4) + '"/>').encode()),
    st.binary(min_size=1, max_size=80).map(lambda b: MARK.encode() + b),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_xml, min_size=1, max_size=4), st.integers(1, 300))
def test_hostile_audit_messages_are_quarantined_and_the_good_ones_beside_them_load(tmp_path, documents, cut):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example: hypothesis shares tmp_path
    (folder / "a-good.xml").write_bytes(_atna_message(1))
    (folder / "z-good.xml").write_bytes(_atna_message(2))
    (folder / "m-cut.xml").write_bytes(_atna_message(3)[:cut].replace(b"u1", MARK.encode()))
    for n, document in enumerate(documents):
        (folder / f"m-hostile{n}.xml").write_bytes(_with_root(document, b"AuditMessage"))
    _all_good_loaded(ATNA, folder, ["a-good.xml", "z-good.xml"], 1 + len(documents))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(hostile_xml, min_size=1, max_size=4))
def test_hostile_fhir_xml_documents_are_quarantined_and_the_good_ones_beside_them_load(tmp_path, documents):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    for name, n in (("a-good.json", 1), ("z-good.json", 2)):
        (folder / name).write_text(json.dumps(_fhir_event(n)), encoding="utf-8")
    for n, document in enumerate(documents):
        (folder / f"m-hostile{n}.xml").write_bytes(_with_root(document, b'AuditEvent xmlns="http://hl7.org/fhir"'))
    _all_good_loaded(FHIR, folder, ["a-good.json", "z-good.json"], len(documents))


def _with_root(document: bytes, root: bytes) -> bytes:
    for encoding in ("utf-16", "utf-8"):
        template = "{root}".encode(encoding)
        if encoding == "utf-16":
            template = template[2:]  # without its byte-order mark
        if template in document:
            name = root.decode().split(" ")[0]
            whole = document.replace(("</" + "{root}").encode(encoding)[2 if encoding == "utf-16" else 0:],
                                     ("</" + name).encode(encoding)[2 if encoding == "utf-16" else 0:])
            return whole.replace(template, root.decode().encode(encoding)[2 if encoding == "utf-16" else 0:])
    return document


def _all_good_loaded(reader, folder: Path, good: list[str], bad: int) -> None:
    loaded, refused = [], []
    for file in reader.files(folder):
        events, rejected, records = _read(reader, file)
        assert records == len(events) + len(rejected) == 1, file.name
        (loaded if events else refused).append(file.name)
        assert all(MARK not in r.reason and "\n" not in r.reason for r in rejected), file.name
    assert loaded == good and len(refused) == bad


def _read(reader, file: Path) -> tuple[list[dict], list, int]:
    events, rejected, records = [], [], 0
    for chunk in reader.chunks(file, UTC):
        events += chunk.events.to_pylist()
        rejected += chunk.rejected
        records += chunk.records
    return events, rejected, records


def test_the_workers_give_the_verdicts_this_process_gives_on_hostile_lines(tmp_path):
    """A big file is mapped by worker processes, a range of lines each: the same events and refusals."""
    hostile = [b'{"a":' * 3000 + b"1" + b"}" * 3000, b'{"resourceType":"AuditEvent","id":"' + b"x" * (2 * LIMIT) + b'"}',
               b"\xff\xfe" + MARK.encode(), LAUGHS.format(root="AuditEvent").encode(),
               json.dumps({**_fhir_event(9), "agent": []}).encode()]
    lines = [json.dumps(_fhir_event(n)).encode() for n in range(40)]
    for n, line in enumerate(hostile):
        lines.insert(5 + 7 * n, line)
    file = tmp_path / "feed.ndjson"
    file.write_bytes(b"\n".join(lines) + b"\n")
    here = _read(FHIR, file)
    by_workers = _read(FhirAuditEvents(max_line=LIMIT, parallel_from=0, range_bytes=3000), file)
    assert len(here[0]) == 40 and len(here[1]) == len(hostile)
    assert by_workers[0] == here[0] and by_workers[2] == here[2]
    assert [(r.line, r.reason) for r in by_workers[1]] == [(r.line, r.reason) for r in here[1]]
