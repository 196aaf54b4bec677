"""A vendor's access-log extract described by a mapping file: `policies/formats/<name>.yaml` (shipped)
or `<site policies>/formats/<name>.yaml` (a site's, which may also replace a shipped one). The file
says how the extract is written (delimiter, encoding) and, for each field of the interchange
contract's access_log.csv, which column holds it and how the vendor's codes become the contract's
values. `auditor formats check` reads one and says what is wrong with it, line by line.

A mapping is data, never code: its matching is exact codes and plain substrings (no regular
expressions a site file could make run for ever), and every value it produces is checked against the
contract here, before any extract is read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from auditor import yaml_files
from auditor.audit.events import ACTIONS
from auditor.errors import ConfigurationError, InputError
from auditor.reporting.site_files import read_inside
from auditor.resources import POLICIES_DIR

MAPPING_VERSION = 1
MAX_MAPPING_BYTES = 256 << 10  # a mapping of a few thousand codes, not a data file
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
BUILT_IN = ("csv", "fhir", "atna")  # formats with a reader of their own, which no mapping file may replace
ORGANISATION = "organisation"  # a time written without an offset is in the organisation's zone
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16")
DELIMITERS = (",", "\t", "|", ";")

# the contract's values (interchange.md, access_log.csv)
EHR_ACTIONS = tuple(ACTIONS[: ACTIONS.index("login_failed") + 1])
RECORD_TYPES = ("demographics", "note", "lab", "imaging", "medication", "order", "psychotherapy_note",
                "substance_use", "hiv", "genetic", "other")
OUTCOMES = ("success", "denied")
TEXT_FIELDS = ("event_id", "user_id", "mrn", "purpose", "workstation", "reason")
CHOICES: dict[str, tuple] = {"action": EHR_ACTIONS, "record_type": RECORD_TYPES, "outcome": OUTCOMES,
                             "break_glass": (True, False)}
REQUIRED = ("user_id", "time", "action")  # an event names who, when and what (interchange.md)
_FIELD_KEYS = {"column", "columns", "value", "codes", "contains", "otherwise", "formats", "zone", "when", "optional"}


@dataclass(frozen=True)
class FieldMapping:
    """Where one contract field comes from: a column, or a fixed value; with codes, the vendor's codes
    (compared case-insensitively) and then substrings, in order, become the contract's values;
    `otherwise` is the value of a code neither names (none: the code is not mapped, see VendorExtract).
    Several columns: event_id's are joined; a coded field's are read in order, each by the same codes
    and then substrings, the first column whose value they name giving the value."""

    name: str
    columns: tuple[str, ...] = ()
    value: object = None
    codes: dict[str, object] = field(default_factory=dict)
    contains: tuple[tuple[str, object], ...] = ()
    otherwise: object = None
    formats: tuple[str, ...] = ()  # time: strptime formats, or "iso" (ISO 8601)
    zone: str = ORGANISATION  # time: "organisation", "UTC" or an IANA zone
    when: str | None = None  # reason: kept only on a break-the-glass event
    optional: bool = False  # an extract may lack the column: the field is then left out

    @property
    def coded(self) -> bool:
        return bool(self.codes or self.contains)


@dataclass(frozen=True)
class VendorMapping:
    name: str
    title: str
    documentation: str
    path: Path
    shipped: bool  # False: the site's own
    suffixes: tuple[str, ...]
    delimiter: str
    encoding: str
    fields: dict[str, FieldMapping]

    def columns(self, required: bool = False) -> list[str]:
        """Every column the mapping reads (`required`: those an extract must have), in field order."""
        seen: list[str] = []
        for mapped in self.fields.values():
            if not (required and mapped.optional):
                seen += [c for c in mapped.columns if c not in seen]
        return seen


def mapping_folders(site_dir: Path | None) -> list[tuple[Path, bool]]:
    """(folder, shipped) where mapping files are looked for: the site's first, so it may replace ours."""
    folders = [(POLICIES_DIR / "formats", True)]
    if site_dir is not None:
        folders.insert(0, (Path(site_dir) / "formats", False))
    return folders


def mapping_names(site_dir: Path | None = None) -> dict[str, Path]:
    """Each mapping's name and its file (a site's replacing ours of the same name)."""
    found: dict[str, Path] = {}
    for folder, _ in reversed(mapping_folders(site_dir)):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.yaml")) if NAME.match(p.stem)})
    return dict(sorted(found.items()))


def find_mapping(name: str, site_dir: Path | None = None) -> VendorMapping:
    """The mapping called `name`; InputError naming the formats there are when there is none."""
    if name in BUILT_IN:
        raise InputError(f"{name} is read by its own reader, not by a mapping file")
    for folder, shipped in mapping_folders(site_dir):
        if NAME.match(name) and (folder / f"{name}.yaml").is_file():
            return read_mapping(folder / f"{name}.yaml", shipped)
    known = ", ".join([*BUILT_IN, *mapping_names(site_dir)])
    raise InputError(f"--format {name!r} is not a format this auditor reads (formats: {known}; "
                     "a site's mapping files go in <site policies>/formats/NAME.yaml)")


def read_mapping(path: Path, shipped: bool = False) -> VendorMapping:
    """The mapping file at `path`, checked; ConfigurationError naming the file and what is wrong."""
    where = f"mapping file {path.name}"
    try:
        text = read_inside(path.parent, path.name, MAX_MAPPING_BYTES, where)
    except FileNotFoundError:
        raise ConfigurationError(f"{where}: no such file") from None
    try:
        doc = yaml_files.load(text.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"{where}: not readable YAML{at}") from None
    return _mapping(doc, path, shipped, where)


def _mapping(doc, path: Path, shipped: bool, where: str) -> VendorMapping:
    if not isinstance(doc, dict):
        raise ConfigurationError(f"{where}: a mapping file is a YAML mapping (mapping, name, title, file, fields)")
    _only(doc, {"mapping", "name", "title", "documentation", "file", "fields"}, where)
    if doc.get("mapping") != MAPPING_VERSION:
        raise ConfigurationError(f"{where}: 'mapping: {MAPPING_VERSION}' (the version of this file's form) is required")
    name = doc.get("name")
    if name != path.stem or not isinstance(name, str) or not NAME.match(name) or name in BUILT_IN:
        raise ConfigurationError(f"{where}: 'name' must be the file's name without .yaml (lower-case letters, "
                                 f"digits and dashes; not {', '.join(BUILT_IN)})")
    file = doc.get("file") or {}
    if not isinstance(file, dict):
        raise ConfigurationError(f"{where}: 'file' is a mapping (suffixes, delimiter, encoding)")
    _only(file, {"suffixes", "delimiter", "encoding"}, f"{where}, file")
    suffixes = tuple(s.lower() for s in _strings(file.get("suffixes", [".csv"]), f"{where}, file.suffixes"))
    if not suffixes or any(not re.match(r"^\.[a-z0-9]{1,8}$", s) for s in suffixes):
        raise ConfigurationError(f"{where}: file.suffixes are file name endings such as .csv or .txt")
    delimiter = file.get("delimiter", ",")
    if delimiter not in DELIMITERS:
        raise ConfigurationError(f"{where}: file.delimiter is one of {', '.join(map(repr, DELIMITERS))}")
    encoding = file.get("encoding", "utf-8")
    if encoding not in ENCODINGS:
        raise ConfigurationError(f"{where}: file.encoding is one of {', '.join(ENCODINGS)}")
    fields = doc.get("fields")
    if not isinstance(fields, dict):
        raise ConfigurationError(f"{where}: 'fields' maps the contract's fields to the extract's columns")
    unknown = sorted(set(fields) - {*TEXT_FIELDS, *CHOICES, "time"}, key=str)
    if unknown:
        raise ConfigurationError(f"{where}: fields has no {', '.join(map(str, unknown))} (the fields: "
                                 f"{', '.join([*TEXT_FIELDS[:3], 'time', 'action', 'record_type', 'outcome', *TEXT_FIELDS[3:], 'break_glass'])})")
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise ConfigurationError(f"{where}: fields must say where {', '.join(missing)} come from")
    mapped = {name_: _field(name_, spec, f"{where}, fields.{name_}") for name_, spec in fields.items()}
    return VendorMapping(name, _text(doc.get("title", name), f"{where}, title"),
                         _text(doc.get("documentation", ""), f"{where}, documentation"), path, shipped, suffixes,
                         delimiter, encoding, mapped)


def _field(name: str, spec, where: str) -> FieldMapping:
    if not isinstance(spec, dict):
        raise ConfigurationError(f"{where}: give a column (column: NAME) or a fixed value (value: ...)")
    _only(spec, _FIELD_KEYS, where)
    has_column, has_value = "column" in spec or "columns" in spec, "value" in spec
    if has_column == has_value:
        raise ConfigurationError(f"{where}: give either a column or a fixed value, not both or neither")
    columns = (tuple(_strings(spec["columns"], where)) if "columns" in spec
               else (_text(spec["column"], where),) if has_column else ())
    if any(not c.strip() for c in columns) or ("columns" in spec and not columns):
        raise ConfigurationError(f"{where}: a column is named by its header, which is not empty")
    allowed = CHOICES.get(name)
    check = (lambda v, w: _contract(v, allowed, w)) if allowed else (lambda v, w: _text(v, w))
    codes = spec.get("codes") or {}
    if not isinstance(codes, dict):
        raise ConfigurationError(f"{where}: codes maps the vendor's codes to the contract's values")
    codes = {_key(k, where): check(v, f"{where}, codes.{k}") for k, v in codes.items()}
    contains = tuple(_contains(item, check, where) for item in _list(spec.get("contains") or [], where))
    if name not in CHOICES and name != "purpose" and (codes or contains):
        raise ConfigurationError(f"{where}: only action, record_type, outcome, purpose and break_glass have codes")
    if allowed and has_column and not (codes or contains):
        raise ConfigurationError(f"{where}: a column of {name} needs codes (the vendor's codes to "
                                 f"{', '.join(map(str, allowed))})")
    if "columns" in spec and name != "event_id" and not (codes or contains):
        raise ConfigurationError(f"{where}: several columns (columns: [...]) are event_id's, joined, or a coded "
                                 "field's, read in order by its codes")
    value = check(spec["value"], f"{where}, value") if has_value and name != "time" else None
    if has_value and name == "time":
        raise ConfigurationError(f"{where}: the time comes from a column")
    otherwise = check(spec["otherwise"], f"{where}, otherwise") if "otherwise" in spec else None
    formats, zone = _time(spec, where) if name == "time" else ((), ORGANISATION)
    if name != "time" and ("formats" in spec or "zone" in spec):
        raise ConfigurationError(f"{where}: formats and zone belong to the time")
    when = spec.get("when")
    if when is not None and (name != "reason" or when != "break_glass"):
        raise ConfigurationError(f"{where}: 'when: break_glass' is for the reason only")
    optional = spec.get("optional", False)
    if not isinstance(optional, bool) or (optional and (name in REQUIRED or not columns)):
        raise ConfigurationError(f"{where}: 'optional: true' is for a column of a field other than "
                                 f"{', '.join(REQUIRED)}")
    return FieldMapping(name, columns, value, codes, contains, otherwise, formats, zone, when, optional)


def _time(spec: dict, where: str) -> tuple[tuple[str, ...], str]:
    formats = tuple(_strings(spec.get("formats", ["iso"]), f"{where}, formats"))
    for text in formats:
        if text != "iso" and not ("%Y" in text and "%d" in text and ("%m" in text or "%b" in text)):
            raise ConfigurationError(f"{where}: {text!r} is not a date-time format (iso, or strptime's "
                                     "such as '%m/%d/%Y %H:%M:%S')")
    zone = spec.get("zone", ORGANISATION)
    if zone != ORGANISATION:
        try:
            ZoneInfo(_text(zone, where))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"{where}: zone is {ORGANISATION}, UTC or an IANA time zone") from None
    return formats, zone


def _contains(item, check, where: str) -> tuple[str, object]:
    if not isinstance(item, dict) or set(item) != {"text", "value"} or not str(item["text"]).strip():
        raise ConfigurationError(f"{where}: each 'contains' entry is {{text: SUBSTRING, value: VALUE}}")
    return str(item["text"]).strip().casefold(), check(item["value"], f"{where}, contains")


def _contract(value, allowed: tuple, where: str):
    if isinstance(value, str):
        value = value.strip()
    if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
        raise ConfigurationError(f"{where}: {value!r} is not one of the contract's values "
                                 f"({', '.join(str(a).lower() for a in allowed)})")
    return value


def _key(code, where: str) -> str:
    if isinstance(code, bool) or code is None:
        raise ConfigurationError(f"{where}: a code is text (quote yes, no, true, false, on, off and null)")
    return str(code).strip().casefold()


def _only(doc: dict, keys: set[str], where: str) -> None:
    unknown = sorted(set(map(str, doc)) - keys)
    if unknown:
        raise ConfigurationError(f"{where}: no such key {', '.join(map(repr, unknown))} "
                                 f"(the keys: {', '.join(sorted(keys))})")


def _text(value, where: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigurationError(f"{where}: give text")
    return str(value)


def _list(value, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigurationError(f"{where}: give a list")
    return value


def _strings(value, where: str) -> list[str]:
    return [_text(v, where) for v in _list(value, where)]
