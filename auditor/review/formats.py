"""The formats `auditor ingest --format` reads, as use cases: every one this auditor knows (its own
readers and the vendors' mapping files, the site's among them), and a mapping checked, and tried on
a sample extract without loading anything. What a check says names columns, codes, counts, lines
and reasons, never a value of the sample (it is an EHR's access log: PHI)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from auditor.errors import InputError, AuditorError
from auditor.ingest.formats import reader_titles
from auditor.ingest.formats.mapping_file import BUILT_IN, VendorMapping, find_mapping, mapping_names, read_mapping
from auditor.ingest.formats.vendor import VendorExtract
from auditor.vault.gateway import QuarantineEntry



@dataclass(frozen=True)
class KnownFormat:
    name: str
    kind: str  # "reader", "mapping" (shipped), "site mapping"
    title: str
    problem: str | None = None  # a mapping file that cannot be used, and why


def list_formats(site_dir: Path | None = None) -> list[KnownFormat]:
    """Every format: the auditor's readers, then the mapping files (a site's replacing ours of its name)."""
    known = [KnownFormat(name, "reader", title) for name, title in reader_titles().items()]
    for name, path in mapping_names(site_dir).items():
        shipped = site_dir is None or not path.is_relative_to(Path(site_dir))
        kind = "mapping" if shipped else "site mapping"
        try:
            known.append(KnownFormat(name, kind, read_mapping(path, shipped).title))
        except AuditorError as exc:
            known.append(KnownFormat(name, kind, "", str(exc)))
    return known


@dataclass
class SampleCheck:
    """What ingesting a sample would do: per file, records that would load and those refused."""

    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # file: (would load, refused)
    refused: list[QuarantineEntry] = field(default_factory=list)
    unmapped: Counter = field(default_factory=Counter)


@dataclass
class FormatCheck:
    mapping: VendorMapping
    sample: SampleCheck | None = None


def check_format(name_or_file: str, site_dir: Path | None = None, sample: Path | None = None,
                 zone: ZoneInfo = ZoneInfo("UTC")) -> FormatCheck:
    """The mapping named (or the mapping file at that path) checked; with `sample` (an extract, a file
    or a folder), read as an ingest would, loading nothing. ConfigurationError when the mapping
    cannot be used; InputError when the sample is not an extract it describes."""
    path = Path(name_or_file)
    if name_or_file not in BUILT_IN and path.suffix in (".yaml", ".yml") and path.is_file():
        mapping = read_mapping(path)
    elif name_or_file not in BUILT_IN and (path.suffix in (".yaml", ".yml") or "/" in name_or_file):
        raise InputError(f"{path}: no such mapping file")  # a path typed, not a format's name
    else:
        mapping = find_mapping(name_or_file, site_dir)
    done = FormatCheck(mapping)
    if sample is not None:
        extract, done.sample = VendorExtract(mapping), SampleCheck()
        for file in extract.files(sample):
            loaded = refused = 0
            for chunk in extract.chunks(file, zone):
                loaded += chunk.events.num_rows
                refused += len(chunk.rejected)
                done.sample.refused += [QuarantineEntry(e.file, e.line, e.reason, "") for e in chunk.rejected]
                done.sample.unmapped.update(chunk.unmapped)
            done.sample.files[file.name] = (loaded, refused)
    return done
