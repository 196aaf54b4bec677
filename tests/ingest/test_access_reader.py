"""access_log.csv read one chunk ahead by a child process (what a big file gets) loads exactly what
reading it in this process loads: the same events, the same quarantine with the same lines, reasons
and rows as read, including rows the gateway refuses after reading (unknown MRN, conflicting id);
an unreadable file is the same one-line error."""

from __future__ import annotations

import pytest

from auditor.errors import InputError
from auditor.ingest.ehr_import import ingest_directory
from auditor.ingest.quarantine import rejections
from tests.ingest import interchange_data as data
from tests.ingest.test_interchange import NEW_YORK, bad_export, ehr_events, everything


def _loaded(vault, folder, read_ahead: bool):
    first = ingest_directory(vault.gateway, folder, NEW_YORK, read_ahead=read_ahead)
    changed = [dict(data.ACCESS_LOG[0], user_id="n.anouk")] + data.ACCESS_LOG[1:]
    second = ingest_directory(vault.gateway, data.write_export(folder.parent / f"again-{read_ahead}",
                                                               access_log=changed), NEW_YORK, read_ahead=read_ahead)
    # a sealed reason's nonce is random, and each vault draws its own internal patient ids
    events = {k: vars(v) | {"reason": v.reason is not None, "patient_id": v.patient_id is not None}
              for k, v in ehr_events(vault).items()}
    raw = [(r.file, r.line, r.reason) for r in rejections(vault.records)]
    return ([(r.file, r.line, r.reason, r.raw_row) for r in first.rejected + second.rejected],
            {n: vars(c) for n, c in first.files.items()}, everything(vault), events, sorted(raw))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_reading_ahead_in_a_child_loads_what_reading_here_loads(vault, tmp_path, clock):
    from auditor.home import create_home
    from tests.conftest import FAST_SCRYPT

    other = create_home(tmp_path / "other", clock=clock, scrypt_n=FAST_SCRYPT)
    try:
        here = _loaded(other, bad_export(tmp_path / "a" / "bad"), read_ahead=False)
    finally:
        other.close()
    ahead = _loaded(vault, bad_export(tmp_path / "b" / "bad"), read_ahead=True)
    assert ahead[0] and any("different content" in r[2] for r in ahead[0])
    assert ahead == here


@pytest.mark.parametrize("good_rows", [0, 5000])  # a bad byte in the header's first block, or far after it
def test_an_unreadable_file_read_ahead_is_one_clear_error(vault, tmp_path, good_rows):
    many = [dict(data.ACCESS_LOG[0], event_id=f"e{i}") for i in range(good_rows)]
    folder = data.write_export(tmp_path / "export", access_log=data.ACCESS_LOG + many)
    with (folder / "access_log.csv").open("ab") as f:
        f.write(b"a9,2026-11-01T08:00,u,MRN-1,view,,,,,\xff\xfe,\n")
    with pytest.raises(InputError, match="access_log.csv: not UTF-8 text"):
        ingest_directory(vault.gateway, folder, NEW_YORK, read_ahead=True)


def test_a_bad_byte_far_into_the_file_stops_the_ingest_before_anything_loads(vault, tmp_path):
    many = [dict(data.ACCESS_LOG[0], event_id=f"e{i}") for i in range(5000)]
    folder = data.write_export(tmp_path / "export", access_log=data.ACCESS_LOG + many)
    with (folder / "access_log.csv").open("ab") as f:
        f.write(b"a9,2026-11-01T08:00,u,MRN-1,view,,,,,\xff\xfe,\n")
    before = everything(vault)
    with pytest.raises(InputError, match="access_log.csv: not UTF-8 text"):
        ingest_directory(vault.gateway, folder, NEW_YORK)
    assert everything(vault) == before  # no patient, no event, no quarantined row: nothing half-loaded


def test_a_reading_child_never_read_is_stopped_when_closed(tmp_path):
    from auditor.ingest.access_reader import AccessChunks
    from auditor.ingest.csv_tables import CsvTable
    from auditor.ingest.interchange_files import ACCESS_LOG

    folder = data.write_export(tmp_path / "export")
    with AccessChunks(CsvTable(folder / "access_log.csv", ACCESS_LOG.names), NEW_YORK, parallel=True) as chunks:
        child = chunks.child
        assert child is not None and child.poll() is None  # started at once, before anything is read
    assert child.poll() is not None
