"""The hardened XML parser (auditor.ingest.formats.fhir_xml.hardened_xml) builds with expat and
ElementTree's C TreeBuilder what defusedxml builds through ElementTree's Python parser: the same tree
for every document defusedxml reads, and a refusal wherever defusedxml refuses (a DTD, an entity, an
external reference: refused before anything in them is read; not well-formed: the same line and column).
defusedxml is the oracle here, not the parser the auditor runs."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import pytest
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from hypothesis import given, settings, strategies as st

from auditor.ingest.formats.fhir_xml import REFUSED, XmlRefused, hardened_xml

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FIXTURES = sorted((SHARED / "atna").rglob("*.xml")) if (SHARED / "atna").is_dir() else []
FHIR_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<AuditEvent xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x">
  <!-- a comment --><?a-pi with data?>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml">read <b>it</b> &amp; go</div></text>
  <type><system value="http://dicom.nema.org/resources/ontology/DCM"/><code value="110110"/></type>
  <recorded value="2026-11-05T08:10:00Z"/><outcome value="0"/>
  <agent><who><identifier><value value="dr.grey &#x41;&#65;"/></identifier></who><requestor value="true"/></agent>
  <entity><what><reference value="Patient/MRN-1"/></what><description><![CDATA[<not> a tag]]></description></entity>
</AuditEvent>"""
ATNA_MESSAGE = (b'\xef\xbb\xbf<AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-11-05T08:10:00Z" '
                b'EventOutcomeIndicator="0"><EventID csd-code="110110" codeSystemName="DCM" originalText="Patient Record"/>'
                b'</EventIdentification><ActiveParticipant UserID="dr.grey" UserIsRequestor="true"/></AuditMessage>')
SEEDS = [FHIR_XML, ATNA_MESSAGE] + [path.read_bytes() for path in FIXTURES]
FRAGMENTS = [b"<!DOCTYPE a>", b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd">', b'<!ENTITY e "x">', b"&e;", b"&amp;",
             b"&#60;", b"<![CDATA[x]]>", b"<!-- c -->", b"<?p d?>", b' xmlns:p="urn:p" p:k="v"', b"<p:q xmlns:p='urn:q'/>",
             b"</", b"<", b">", b'"', b"\x00", b"\xff", b" ", b"}", b"\n\t"]


def _shape(element: Element, local: bool = False) -> tuple:
    tag = element.tag.rsplit("}", 1)[-1] if local else element.tag
    return tag, dict(element.attrib), element.text, element.tail, [_shape(child, local) for child in element]


def _defused(data: bytes, local_names: bool = False):
    """defusedxml's answer as hardened_xml gives it: the tree's shape, or the refusal's text."""
    try:
        return _shape(fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True), local_names)
    except DefusedXmlException:
        return REFUSED
    except ParseError as exc:
        return "not well-formed XML (at line {}, column {})".format(*exc.position)


def _hardened(data: bytes, local_names: bool = False):
    try:
        return _shape(hardened_xml(data, local_names))
    except XmlRefused as refused:
        return str(refused)


def _mutated(seed: bytes, at: int, change: str, fragment: bytes) -> bytes:
    at %= len(seed) + 1
    if change == "cut":
        return seed[:at]
    if change == "replace":
        return seed[:at] + fragment + seed[at + 1:]
    if change == "utf-16":
        return seed.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode("utf-8", "replace").encode("utf-16")
    return seed[:at] + fragment + seed[at:]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SEEDS), st.integers(0, 1 << 16), st.sampled_from(["cut", "replace", "insert", "utf-16", "as is"]),
       st.sampled_from(FRAGMENTS) | st.binary(min_size=1, max_size=4))
def test_the_tree_or_the_refusal_is_defusedxml_s(seed, at, change, fragment):
    data = seed if change == "as is" else _mutated(seed, at, change, fragment)
    assert _hardened(data) == _defused(data)
    assert _hardened(data, local_names=True) == _defused(data, local_names=True)  # as ATNA reads it


@pytest.mark.skipif(not FIXTURES, reason="../shared/data is beside the project")
def test_every_shared_message_parses_as_defusedxml_parses_it():
    assert len(FIXTURES) == 25
    for path in FIXTURES:
        assert _hardened(path.read_bytes()) == _defused(path.read_bytes()), path.name


LAUGHS = (b'<!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">'
          b'<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]><a>&l3;</a>')


@pytest.mark.parametrize("data", [
    LAUGHS,
    '<?xml version="1.0" encoding="UTF-16"?>'.encode("utf-16") + LAUGHS.decode().encode("utf-16")[2:],  # no byte says DOCTYPE
    b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    b'<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
    b'<!DOCTYPE a SYSTEM "http://127.0.0.1:9/a.dtd"><a/>',
    b'<!DOCTYPE a><a/>',
    b'<!DOCTYPE a [<!ENTITY x SYSTEM "http://127.0.0.1:9/" NDATA png>]><a/>',
    b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a> and then not well-formed <<<',  # refused at the DTD, read no further
])
def test_a_dtd_an_entity_or_an_external_reference_is_refused_unread(data):
    with pytest.raises(XmlRefused, match=f"^{REFUSED}$"):
        hardened_xml(data)


def test_an_undefined_entity_is_not_well_formed():
    with pytest.raises(XmlRefused, match=r"^not well-formed XML \(at line 1, column 3\)$"):
        hardened_xml(b"<a>&x;</a>")


def test_local_names_drop_an_element_s_namespace_not_an_attribute_s():
    root = hardened_xml(b'<m:AuditMessage xmlns:m="urn:m" xmlns:x="urn:x" x:k="v" plain="p"><Event xmlns="urn:e"/>'
                        b'</m:AuditMessage>', local_names=True)
    assert (root.tag, root.attrib, [child.tag for child in root]) == (
        "AuditMessage", {"{urn:x}k": "v", "plain": "p"}, ["Event"])
    assert hardened_xml(b'<m:a xmlns:m="urn:m"/>').tag == "{urn:m}a"
