"""Whoever sends audit messages (a PACS, an HIE, anyone who can reach the listener or drop a file in
the folder ingested): an XML message that declares entities or a DTD to make the parser fetch a URL,
read a local file or expand itself a billion times is quarantined with its reason and fetches nothing,
in any encoding, through `auditor ingest --format atna`, while the good message beside it loads."""

from __future__ import annotations

import pytest

from auditor.ingest.formats.fhir_xml import REFUSED

LAUGHS = ('<!DOCTYPE AuditMessage [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">'
          '<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]><AuditMessage>&l3;</AuditMessage>')
HOSTILE = {
    "entity-url.xml": '<!DOCTYPE AuditMessage [<!ENTITY x SYSTEM "{url}/x">]><AuditMessage>&x;</AuditMessage>',
    "entity-file.xml": '<!DOCTYPE AuditMessage [<!ENTITY x SYSTEM "file:///etc/passwd">]><AuditMessage>&x;</AuditMessage>',
    "parameter-entity.xml": '<!DOCTYPE AuditMessage [<!ENTITY % p SYSTEM "{url}/p"> %p;]><AuditMessage/>',
    "external-dtd.xml": '<!DOCTYPE AuditMessage SYSTEM "{url}/a.dtd"><AuditMessage/>',
    "laughs.xml": LAUGHS,
}
GOOD = ('<m:AuditMessage xmlns:m="urn:m"><m:EventIdentification EventActionCode="R" '
        'EventDateTime="2026-11-05T08:10:00Z" EventOutcomeIndicator="0"><m:EventID csd-code="110110" '
        'codeSystemName="DCM" originalText="Patient Record"/></m:EventIdentification>'
        '<m:ActiveParticipant UserID="dr.grey" UserIsRequestor="true"/></m:AuditMessage>')


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # UTF-16: no byte of the file spells DOCTYPE
def test_hostile_audit_messages_are_quarantined_and_fetch_nothing(auditor, tmp_path, listener, encoding):
    url, seen = listener
    folder = tmp_path / "pacs"
    folder.mkdir()
    for name, text in {**HOSTILE, "good.xml": GOOD}.items():
        declared = f'<?xml version="1.0" encoding="{encoding.upper()}"?>' + text.replace("{url}", url)
        (folder / name).write_bytes(declared.encode(encoding))
    assert auditor("init").code == 0
    done = auditor("ingest", str(folder), "--format", "atna", "--source", "pacs", "--tz", "UTC")
    assert done.code == 0, done.err
    assert "good.xml: 1 records: 1 loaded, 0 already present, 0 rejected" in done.out
    for name in HOSTILE:
        assert f"{name}: 1 records: 0 loaded, 0 already present, 1 rejected" in done.out
        assert f"rejected {name}:1: {REFUSED}" in done.out
    assert seen == []
    listed = auditor("ingest", "--rejected")
    assert listed.code == 0 and all(name in listed.out for name in HOSTILE)
    assert "root:" not in listed.out + done.out  # nothing of /etc/passwd was read into either
    assert auditor("audit", "verify").code == 0
