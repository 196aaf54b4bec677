"""FHIR XML (R4, R5) as the JSON shape the mapping reads: a resource's root element names its
resourceType; a primitive is its `value` attribute; a repeated element a list, a single one itself
(the mapping reads every element that may repeat as a list either way); narrative (`text`'s xhtml)
and extensions are left out, as the mapping reads neither.

Parsed by defusedxml: a document with a DTD, an entity or an external reference is refused whole
(billion laughs, XXE), as is one that is not well-formed; size is limited by the reader."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

FHIR = "{http://hl7.org/fhir}"
_SKIPPED = {"text", "extension", "modifierExtension", "contained"}


class XmlRefused(Exception):
    """A document that is not read: the reason quotes nothing of it."""


def hardened_xml(data: bytes) -> Element:
    """The document's root element, parsed with DTDs, entities and external references refused
    (FHIR XML here, ATNA AuditMessages in auditor.ingest.formats.atna); XmlRefused otherwise."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise XmlRefused("XML with a DTD, an entity or an external reference: refused unread") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise XmlRefused(f"not well-formed XML (at line {line}, column {column})") from None


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
        if name in _SKIPPED:
            continue
        value = _value(child)
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        else:
            out[name] = value
    if element.get("id") is not None and "id" not in out:
        out["id"] = element.get("id")
    return out
