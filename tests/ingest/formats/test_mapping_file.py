"""Mapping files: every mistake a site can make in one is refused with the file, the place and what
is wrong (never loaded half-understood); `auditor formats list` and `auditor formats check` say what
each format reads and what a sample would give, without a value of the sample."""

from __future__ import annotations

import os

import pytest

from auditor.errors import ConfigurationError
from auditor.ingest.formats.mapping_file import read_mapping
from tests.ingest.formats.vendor_data import write_site_policies

BASE = "mapping: 1\nname: ours\nfields:\n  user_id: {column: U}\n  time: {column: T}\n  action: {value: view}\n"


def _refused(tmp_path, text: str) -> str:
    (tmp_path / "ours.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        read_mapping(tmp_path / "ours.yaml")
    return str(refused.value)


def test_the_smallest_mapping_reads(tmp_path):
    (tmp_path / "ours.yaml").write_text(BASE, encoding="utf-8")
    mapping = read_mapping(tmp_path / "ours.yaml")
    assert mapping.columns() == ["U", "T"] and mapping.fields["action"].value == "view"


def test_a_coded_field_reads_several_columns(tmp_path):
    text = BASE.replace("{value: view}", "{columns: [A, B], codes: {R: view}, contains: [{text: print, value: print}]}")
    text += "  outcome: {columns: [O, A], codes: {'0': success}}\n"
    (tmp_path / "ours.yaml").write_text(text, encoding="utf-8")
    mapping = read_mapping(tmp_path / "ours.yaml")
    assert mapping.fields["action"].columns == ("A", "B")
    assert mapping.columns(required=True) == ["U", "T", "A", "B", "O"]  # each once: the header must have them


@pytest.mark.parametrize("text, said", [
    ("mapping: 1\nname: ours\n", "'fields' maps the contract's fields"),
    (BASE.replace("mapping: 1", "mapping: 2"), "'mapping: 1'"),
    (BASE.replace("name: ours", "name: other"), "'name' must be the file's name"),
    (BASE + "  colour: {value: red}\n", "fields has no colour"),
    (BASE.replace("  action: {value: view}\n", ""), "fields must say where action come from"),
    (BASE.replace("{value: view}", "{value: peek}"), "'peek' is not one of the contract's values"),
    (BASE.replace("{value: view}", "{column: A}"), "a column of action needs codes"),
    (BASE.replace("{value: view}", "{column: A, codes: {R: read}}"), "'read' is not one of the contract's values"),
    (BASE.replace("{value: view}", "{column: A, codes: {yes: view}}"), "a code is text (quote yes"),
    (BASE.replace("{column: T}", "{column: T, formats: ['%H:%M']}"), "is not a date-time format"),
    (BASE.replace("{column: T}", "{column: T, zone: Mars/Olympus}"), "zone is organisation, UTC or an IANA"),
    (BASE.replace("{column: U}", "{column: U, value: x}"), "either a column or a fixed value"),
    (BASE.replace("{column: U}", "{column: U, optional: true}"), "'optional: true' is for a column of a field other"),
    (BASE.replace("{column: U}", "{columns: [U, V]}"), "several columns (columns: [...]) are event_id's"),
    (BASE + "  purpose: {columns: [P, Q]}\n", "several columns (columns: [...]) are event_id's"),
    (BASE.replace("{value: view}", "{columns: [A, B]}"), "a column of action needs codes"),
    (BASE.replace("{value: view}", "{columns: [], codes: {R: view}}"), "a column is named by its header"),
    (BASE + "file: {delimiter: '#'}\n", "file.delimiter is one of"),
    (BASE + "file: {encoding: ebcdic}\n", "file.encoding is one of"),
    (BASE + "extra: 1\n", "no such key 'extra'"),
    ("fields: [unclosed\n", "not readable YAML (line 2)"),
])
def test_a_mistake_is_refused_with_what_is_wrong(tmp_path, text, said):
    message = _refused(tmp_path, text)
    assert message.startswith("mapping file ours.yaml") and said in message


def test_a_site_mapping_is_read_only_from_inside_its_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(BASE.replace("ours", "elsewhere"), encoding="utf-8")
    (tmp_path / "formats").mkdir()
    os.symlink(elsewhere, tmp_path / "formats" / "ours.yaml")
    with pytest.raises(ConfigurationError, match="symbolic link"):
        read_mapping(tmp_path / "formats" / "ours.yaml")
    (tmp_path / "big.yaml").write_text(BASE.replace("ours", "big") + "#" * (300 << 10), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="larger than 256 KiB"):
        read_mapping(tmp_path / "big.yaml")


def test_formats_list_names_every_format_and_flags_a_broken_site_mapping(auditor, tmp_path):
    site = write_site_policies(tmp_path / "site")
    listed = auditor("formats", "list", "--site-policies", str(site))
    assert listed.code == 0, listed.err
    names = [line.split()[0] for line in listed.out.splitlines()]
    assert names[:3] == ["csv", "fhir", "atna"]
    assert {"epic-access-log", "cerner-p2sentinel", "allscripts-touchworks", "meditech-audit"} <= set(names)
    assert "site mapping  Our Meditech audit extract" in listed.out
    (site / "formats" / "broken.yaml").write_text("mapping: 1\nname: broken\n", encoding="utf-8")
    flagged = auditor("formats", "list", "--site-policies", str(site))
    assert flagged.code == 2 and "broken  " in flagged.out and "cannot be used: mapping file broken.yaml" in flagged.out


def test_formats_check_tries_a_sample_without_a_value_of_it(auditor, tmp_path):
    site = write_site_policies(tmp_path / "site")
    sample = tmp_path / "audit.txt"
    sample.write_text("AuditSeq|UserMnemonic|PatientAcct|AccessDate|Func|Screen|Result|Purpose|Override|OverrideText|Terminal\n"
                      "1|U1|MRN-SECRET-1|11/03/2026 09:15:02|V|DOC|OK|TREAT|N||T1\n"
                      "2|U1|MRN-SECRET-2|11/03/2026 09:15:02|??|DOC|OK|TREAT|N||T1\n", encoding="utf-8")
    checked = auditor("formats", "check", "meditech-audit", "--site-policies", str(site), "--sample", str(sample))
    assert checked.code == 1  # a record would be refused
    assert "  action       <- column Func (9 codes; another code: refused)" in checked.out
    assert "sample audit.txt: 2 records: 1 would load, 1 refused" in checked.out
    assert "refused audit.txt:3: an action code the mapping does not name" in checked.out
    assert "SECRET" not in checked.out + checked.err
    by_path = auditor("formats", "check", str(site / "formats" / "meditech-audit.yaml"))
    assert by_path.code == 0 and "site mapping" in by_path.out
    shipped = auditor("formats", "check", "epic-access-log")
    assert shipped.code == 0 and "shipped mapping" in shipped.out
    bad = auditor("formats", "check", "no-such-format")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1 and "not a format this auditor reads" in bad.err
    missing = auditor("formats", "check", str(tmp_path / "nowhere" / "mine.yaml"))
    assert missing.code == 2 and missing.err.strip() == f"auditor: {tmp_path / 'nowhere' / 'mine.yaml'}: no such mapping file"
    other = auditor("formats", "check", "allscripts-touchworks", "--sample", str(sample))
    assert other.code == 2 and "no column UserID" in other.err
