"""FHIR XML (R4, R5) as the JSON shape the mapping reads: a resource's root element names its
resourceType; a primitive is its `value` attribute; a repeated element a list, a single one itself
(the mapping reads every element that may repeat as a list either way); a resource's narrative (its
`text` with xhtml) and extensions are left out, as the mapping reads neither (a CodeableConcept's
`text`, a primitive, is read: it holds a break-the-glass reason).

Parsed by expat as defusedxml parses it: a document with a DTD, an entity or an external reference is
refused whole (billion laughs, XXE) at the first sign of it, as is one that is not well-formed; size is
limited by the reader."""

from __future__ import annotations

from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

FHIR = "{http://hl7.org/fhir}"
_SKIPPED = {"extension", "modifierExtension", "contained"}


class XmlRefused(Exception):
    """A document that is not read: the reason quotes nothing of it."""


def hardened_xml(data: bytes, local_names: bool = False) -> Element:
    """The document's root element, parsed with DTDs, entities and external references refused
    (FHIR XML here, ATNA AuditMessages in auditor.ingest.formats.atna); XmlRefused otherwise. With
    `local_names`, an element's tag is its name without its namespace (an attribute's keeps it).

    The tree is ElementTree's (`{namespace}name` tags and attributes), built by its C TreeBuilder from
    expat's handlers directly. defusedxml builds the same tree through ElementTree's Python parser, a
    Python call per element and per attribute name: four-fifths of the time of mapping an ATNA message
    (tests/ingest/formats/test_fhir_xml.py holds the two to the same trees and the same refusals)."""
    builder = TreeBuilder()
    parser = expat.ParserCreate(None, "}")  # as ElementTree's: a namespaced name comes as "namespace}name"
    start = builder.start

    def started(tag: str, attributes: dict) -> None:
        if "}" in tag:
            tag = tag.rsplit("}", 1)[1] if local_names else "{" + tag
        if attributes and "}" in "".join(attributes):
            attributes = {"{" + name if "}" in name else name: value for name, value in attributes.items()}
        start(tag, attributes)

    parser.StartElementHandler = started
    parser.EndElementHandler = builder.end  # expat has matched the tag already
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    # defusedxml's refusals: raised from a handler, they stop expat before it reads any further
    parser.StartDoctypeDeclHandler = _refuse  # a DTD at its start, before any declaration in it is read
    # no entity is declared or referenced outside a DTD: these are defusedxml's second line, kept should
    # the first ever be loosened
    parser.EntityDeclHandler = parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmlRefused(f"not well-formed XML (at line {exc.lineno}, column {exc.offset})") from None
    return builder.close()


REFUSED = "XML with a DTD, an entity or an external reference: refused unread"


def _refuse(*_declaration) -> None:
    raise XmlRefused(REFUSED)


def resource_of_xml(data: bytes) -> dict:
    root = hardened_xml(data)
    if not root.tag.startswith(FHIR):
        raise XmlRefused("not FHIR XML (the root element is not in the FHIR namespace)")
    return _resource(root)


def _name(element: Element) -> str:
    return element.tag[len(FHIR):] if element.tag.startswith(FHIR) else element.tag


def _resource(root: Element) -> dict:
    out = _complex(root)
    out["resourceType"] = _name(root)
    return out


def _value(element: Element):
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return element.get("value")
    if _name(element) == "resource" and len(children) == 1:  # a Bundle entry's resource
        return _resource(children[0])
    return _complex(element)


def _complex(element: Element) -> dict:
    out: dict = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = _name(child)
        if name in _SKIPPED or (name == "text" and child.get("value") is None):  # a resource's narrative: its
            continue  # xhtml is not read; a CodeableConcept's text is a primitive (a break-the-glass reason)
        value = _value(child)
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        else:
            out[name] = value
    if element.get("id") is not None and "id" not in out:
        out["id"] = element.get("id")
    return out
