"""Private output files: whole or absent, owner-only, never through a planted link, and a command's
several outputs placed together or not at all."""

import os
import subprocess
import sys

import pytest

from auditor.errors import InputError, OutputError
from auditor.phi_files import Outputs, private_folder, write_private
from tests.conftest import FILLER


def test_written_whole_and_owner_only(tmp_path):
    target = tmp_path / "findings.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


def test_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        write_private(tmp_path / "proof.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "proof.json").stat().st_mode & 0o777 == 0o600


def test_bad_targets_are_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        write_private(tmp_path, b"x")
    with pytest.raises(InputError, match="no such folder"):
        write_private(tmp_path / "missing" / "f.csv", b"x")


def test_a_planted_symlink_is_replaced_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").symlink_to(victim)
    # the old temporary name was predictable: plant a link at every name of that shape too
    (out / f".report.html.{os.getpid()}.tmp").symlink_to(victim)
    write_private(out / "report.html", "report")
    assert victim.read_text() == "precious"
    assert not (out / "report.html").is_symlink()
    assert (out / "report.html").read_text() == "report"


def test_an_unwritable_folder_is_one_output_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere; the full-disk test below covers the failure path")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(OutputError, match=r"cannot write .*ro/f\.csv: Permission denied"):
        write_private(folder / "f.csv", "x")


def test_outputs_on_a_full_disk_leave_nothing(full_disk):
    (full_disk / "report.html").write_text("last month's")
    with pytest.raises(OutputError, match="No space left on device"):
        with Outputs() as out:
            out.add(full_disk / "report.html", "x" * 1024)
            out.add(full_disk / "findings.csv", "y" * (1 << 20))
    assert sorted(p.name for p in full_disk.iterdir() if p.name != FILLER) == ["report.html"]
    assert (full_disk / "report.html").read_text() == "last month's"


def test_a_file_size_limit_is_one_output_error(tmp_path):
    """Without root (no tmpfs to fill), the kernel's file size limit fails writes the same way."""
    script = (
        "import resource, signal, sys\n"
        "from auditor.phi_files import write_private\n"
        "from auditor.errors import OutputError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        f"    write_private(__import__('pathlib').Path({str(tmp_path / 'big.csv')!r}), 'z' * 100000)\n"
        "except OutputError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "cannot write" in done.stdout and "big.csv" in done.stdout, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_outputs_are_placed_together(tmp_path):
    with Outputs() as out:
        out.add(tmp_path / "a.html", "A")
        out.add(tmp_path / "b.csv", "B")
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []
    assert (tmp_path / "a.html").read_text() == "A" and (tmp_path / "b.csv").read_text() == "B"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.csv"]


def test_a_failure_after_commit_puts_the_old_files_back(tmp_path):
    (tmp_path / "a.html").write_text("old A")
    with pytest.raises(RuntimeError, match="database"):
        with Outputs() as out:
            out.add(tmp_path / "a.html", "new A")
            out.add(tmp_path / "b.csv", "new B")
            out.commit()
            assert (tmp_path / "a.html").read_text() == "new A"
            raise RuntimeError("the database commit failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html"]
    assert (tmp_path / "a.html").read_text() == "old A"


def test_private_folder(tmp_path):
    made = private_folder(tmp_path / "x" / "y")
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="not a folder"):
        private_folder(tmp_path / "file")


def test_a_file_written_a_chunk_at_a_time_is_whole_or_absent(tmp_path, full_disk):
    """Outputs.add_chunks (an audit-log export too big to hold): the chunks in order, 0600; a chunk
    that cannot be made, or a disk that fills, leaves no file and the earlier one as it was."""
    folder = tmp_path / "out"
    folder.mkdir()
    with Outputs() as out:
        out.add_chunks(folder / "log.ndjson", (f"{n}\n".encode() for n in range(5)))
    assert (folder / "log.ndjson").read_text() == "0\n1\n2\n3\n4\n"
    assert (folder / "log.ndjson").stat().st_mode & 0o777 == 0o600

    def failing():
        yield b"first\n"
        raise ValueError("the export's reader failed")

    with pytest.raises(ValueError):
        with Outputs() as out:
            out.add_chunks(folder / "log.ndjson", failing())
    assert sorted(p.name for p in folder.iterdir()) == ["log.ndjson"]
    assert (folder / "log.ndjson").read_text() == "0\n1\n2\n3\n4\n"
    with pytest.raises(OutputError):
        with Outputs() as out:
            out.add_chunks(full_disk / "big.ndjson", (b"z" * (1 << 20) for _ in range(64)))
    assert sorted(p.name for p in full_disk.iterdir() if p.name != FILLER) == []
