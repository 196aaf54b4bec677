"""Reading a FHIR file: each resource it holds as (place, resource, problem, raw), whatever the
form: an NDJSON line (one resource a line, a line no longer than its limit), a JSON or XML document
(a resource or a Bundle, no bigger than its limit). A record that cannot be read comes with why, in
words that quote nothing of it; auditor.ingest.formats.fhir maps the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

import orjson

from auditor.ingest.formats import MappedEvent, Unmappable
from auditor.ingest.formats.fhir_mapping import canonical
from auditor.ingest.formats.fhir_xml import XmlRefused, resource_of_xml

READ_BYTES = 1 << 20  # what is read at a time past a line too long to keep


def records_of(file: Path, max_line: int, max_document: int,
             fast: Callable[[bytes], MappedEvent | None]) -> Iterator[tuple[int, dict | None, str | None, str]]:
    if file.suffix.lower() == ".ndjson":
        yield from _ndjson(file, max_line, fast)
        return
    size = file.stat().st_size
    if size > max_document:
        yield 1, None, f"larger than {size_text(max_document)}: not read (split it, or export NDJSON)", ""
        return
    data = file.read_bytes()
    if file.suffix.lower() == ".xml":
        try:
            document = resource_of_xml(data)
        except XmlRefused as refused:
            yield 1, None, str(refused), data.decode("utf-8", "replace")
            return
    else:
        document, problem = json_document(data)
        if problem is not None:
            yield 1, None, problem, data.decode("utf-8", "replace")
            return
    yield from _resources(document, 1, entries_numbered=True)


def size_text(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"


def _ndjson(file: Path, max_line: int, fast) -> Iterator[tuple[int, dict | None, str | None, str]]:
    with open(file, "rb") as f:
        yield from ndjson_lines(enumerate(bounded_lines(f, max_line), start=1), max_line, fast)


def bounded_lines(f, max_line: int, limit: int | None = None) -> Iterator[bytes]:
    """The lines of `f` (up to `limit` bytes from where it is), none held longer than `max_line` + 1
    bytes: of a longer line, its first bytes (refused by their length), the rest read past."""
    left = limit
    while left is None or left > 0:
        line = f.readline(max_line + 1 if left is None else min(max_line + 1, left))
        if not line:
            return
        if left is not None:
            left -= len(line)
        if len(line) > max_line and not line.endswith(b"\n"):
            while left is None or left > 0:
                rest = f.readline(READ_BYTES if left is None else min(READ_BYTES, left))
                if left is not None:
                    left -= len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def ndjson_lines(lines, max_line: int, fast) -> Iterator[tuple[int, dict | MappedEvent | None, str | None, str]]:
    """Each line's resource (or its event, when `fast` maps it), refusal or Bundle entries. A resource
    alone on its line is hashed and kept as the line was received."""
    for number, line in lines:
        if not line.strip():
            continue
        if len(line) > max_line:  # only its first bytes were read: they are what quarantine keeps
            yield number, None, f"a line longer than {size_text(max_line)}", line[:max_line].decode("utf-8", "replace")
            continue
        line = line.rstrip(b"\r\n")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None, "not UTF-8 text", line.decode("utf-8", "replace")
            continue
        try:
            event = fast(line)
        except Unmappable as refused:
            yield number, None, str(refused), text
            continue
        if event is not None:
            yield number, event, None, text
            continue
        document, problem = json_document(line)
        if problem is not None:
            yield number, None, problem, text
        elif isinstance(document, dict) and document.get("resourceType") != "Bundle":
            yield number, document, None, text
        else:
            yield from _resources(document, number, entries_numbered=False)


def json_document(data: bytes) -> tuple[object, str | None]:
    """`data` as JSON, or why not (quoting nothing of it)."""
    try:
        return orjson.loads(data), None  # orjson refuses nesting past 1,024 levels (no stack to exhaust)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "UTF-8" in text or "surrogate" in text:
            return None, "not UTF-8 text"
        if "recursion" in text.lower() or "depth limit" in text:
            return None, "JSON nested too deeply"
        return None, f"not JSON (at line {exc.lineno}, column {exc.colno})"


def _resources(document, line: int, entries_numbered: bool) -> Iterator[tuple[int, dict | None, str | None, str]]:
    """The AuditEvents of a resource or of a Bundle's entries (`entries_numbered`: each entry's place is
    its number in the Bundle; otherwise every entry is at `line`)."""
    if not isinstance(document, dict):
        yield line, None, "not a FHIR resource (a JSON object)", json.dumps(document, ensure_ascii=False)
        return
    if document.get("resourceType") != "Bundle":
        yield line, document, None, canonical(document)
        return
    entries = document.get("entry")
    for n, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        place = n if entries_numbered else line
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            yield place, None, "a Bundle entry without a resource", json.dumps(entry, ensure_ascii=False)
        else:
            yield place, resource, None, canonical(resource)
