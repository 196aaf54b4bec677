"""What the output commands do when they cannot write (a file where the folder should be, a full disk),
through the CLI: one line, exit 2, no file of the set left behind, no earlier file lost, and nothing
recorded in the vault when the destination was wrong from the start. Also where `auditor demo`
puts its folder, and the mode of `audit prove --out`."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from auditor.home import create_home
from tests.conftest import FAST_SCRYPT, FILLER
from tests.reporting.report_data import hospital_month

PAGE = 4096


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    hospital_month(vault)
    vault.close()
    return tmp_path / "home"


def one_line(result) -> str:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert lines and lines[-1].startswith("auditor: ") and "Traceback" not in result.err, result.err
    return lines[-1]


def _state(home: Path) -> tuple:
    """What a command could have changed: cases, and the vault's own audit events."""
    with sqlite3.connect(home / "records.db") as con:
        return (con.execute("select count(*) from cases").fetchone()[0],
                con.execute("select count(*), max(seq) from audit_events").fetchone())


def leave_free(folder: Path, nbytes: int) -> None:
    """Grow or shrink the full_disk fixture's filler so that `nbytes` (a multiple of a page) are free."""
    info = os.statvfs(folder)
    free = info.f_bavail * info.f_frsize
    filler = folder / FILLER
    if free > nbytes:  # written, not truncated: a grown sparse file would take no pages
        with open(filler, "ab") as more:
            more.write(b"\0" * (free - nbytes))
    else:
        os.truncate(filler, filler.stat().st_size - (nbytes - free))
    info = os.statvfs(folder)
    assert info.f_bavail * info.f_frsize == nbytes


def _pages(n: int) -> int:
    return -(-n // PAGE) * PAGE


COMMANDS = {
    "report-monthly": ("report", "monthly", "--month", "2026-11", "--no-pdf", "--out", "{blocked}/report"),
    "report-patient": ("report", "patient", "--mrn", "P-OK", "--no-pdf", "--out", "{blocked}/access"),
    "findings": ("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--out", "{blocked}/f.json"),
    "audit-prove": ("audit", "prove", "1", "--out", "{blocked}/proof.json"),
    "demo": ("demo", "--events", "2000", "--no-pdf", "--out", "{blocked}/demo"),
}


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_an_out_under_a_file_is_one_line_and_changes_nothing(auditor, home, tmp_path, command):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder\n")
    before = _state(home)
    line = one_line(auditor(*(a.format(blocked=blocked) for a in COMMANDS[command])))
    assert str(blocked) in line and "not a folder" in line, line
    assert _state(home) == before  # refused before the rules ran: no case opened, nothing read
    assert blocked.read_text() == "not a folder\n"


def test_audit_prove_out_is_owner_only(auditor, home, tmp_path):
    result = auditor("audit", "prove", "3", "--out", str(tmp_path / "proof.json"))
    assert result.code == 0, result.err
    assert (tmp_path / "proof.json").stat().st_mode & 0o777 == 0o600
    assert auditor("audit", "verify-proof", str(tmp_path / "proof.json")).code == 0


def test_a_full_disk_leaves_no_report_at_all(auditor, home, full_disk):
    line = one_line(auditor("report", "monthly", "--month", "2026-11", "--out", str(full_disk / "r"), user="officer"))
    assert "No space left on device" in line
    assert sorted(p.name for p in full_disk.iterdir()) == [FILLER]  # no folder, no temporary file


def test_a_report_never_stands_without_its_findings(auditor, home, tmp_path, full_disk):
    """Room for report.html but not for findings.csv and findings.json: none of the four is placed
    (the first writer left report.html alone, without the findings it states)."""
    ref = auditor("report", "monthly", "--month", "2026-11", "--no-pdf", "--out", str(tmp_path / "ref"), user="officer")
    assert ref.code == 0, ref.err
    html = (tmp_path / "ref" / "report.html").stat().st_size
    leave_free(full_disk, _pages(html + 200))  # a little slack: the generation time's text may differ
    line = one_line(auditor("report", "monthly", "--month", "2026-11", "--no-pdf", "--out", str(full_disk / "r"),
                            user="officer"))
    assert "No space left on device" in line
    assert sorted(p.name for p in full_disk.iterdir()) == [FILLER]


def test_a_full_disk_keeps_the_previous_report_whole(auditor, home, full_disk):
    leave_free(full_disk, 512 * 1024)
    first = auditor("report", "monthly", "--month", "2026-11", "--no-pdf", "--out", str(full_disk / "r"), user="officer")
    assert first.code == 0, first.err
    before = {p.name: p.read_bytes() for p in (full_disk / "r").iterdir()}
    assert sorted(before) == ["findings.csv", "findings.json", "report.html"]
    leave_free(full_disk, _pages(len(before["report.html"]) + 200))
    line = one_line(auditor("report", "monthly", "--month", "2026-11", "--no-pdf", "--out", str(full_disk / "r"),
                            user="officer"))
    assert "No space left on device" in line
    assert {p.name: p.read_bytes() for p in (full_disk / "r").iterdir()} == before


def test_findings_on_a_full_disk(auditor, home, full_disk):
    leave_free(full_disk, 0)
    line = one_line(auditor("findings", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv",
                            "--out", str(full_disk / "f.csv"), user="officer"))
    assert "No space left on device" in line and str(full_disk / "f.csv") in line
    assert sorted(p.name for p in full_disk.iterdir()) == [FILLER]


def test_a_demo_on_a_full_disk_leaves_no_folder(auditor, full_disk):
    line = one_line(auditor("demo", "--events", "2000", "--no-pdf", "--out", str(full_disk / "demo")))
    assert f"cannot make the demo in {full_disk / 'demo'}" in line
    assert sorted(p.name for p in full_disk.iterdir()) == [FILLER]


def test_the_demo_goes_to_the_users_data_folder_not_the_checkout(auditor, tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = auditor("demo", "--events", "2000", "--no-pdf")
    assert result.code == 0, result.err
    assert list(checkout.iterdir()) == []
    folders = list((tmp_path / "data" / "auditor").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("demo-")
    assert f"demo folder: {folders[0]}" in result.out
    assert (folders[0] / "vault" / "keyring.json").stat().st_mode & 0o777 == 0o600
    assert folders[0].stat().st_mode & 0o777 == 0o700
    assert (folders[0] / "report" / "report.html").exists()
