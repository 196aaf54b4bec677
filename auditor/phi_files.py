"""Files that hold PHI or keys outside the vault (findings, reports, release packets, proofs,
certificates, the keyring): written whole, readable by their owner only, never left half-written,
and never through a link someone planted.

Each file is first written to a temporary name in its own folder, made with O_CREAT | O_EXCL |
O_NOFOLLOW and a random suffix (no predictable name to plant a symlink at), fsynced, then renamed
over the target (a rename replaces a symlink at the target, never follows it). A command that writes
several files stages them all in one `Outputs` and renames them together once every one is written:
a full disk or an unwritable folder leaves no new file at all. Every failure is one OutputError
naming the file and the system's reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from auditor.errors import NotFound, OutputError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _fail(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}")


def _check_target(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        raise OutputError(f"{path} is a folder, not a file")
    if not path.parent.is_dir():
        raise OutputError(f"no such folder: {path.parent}")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a folder we may rename into but not open (rare): the rename still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _stage(path: Path, data: bytes) -> Path:
    """`data` in a new 0600 file beside `path`, on disk; its temporary path."""
    return _stage_chunks(path, [data])


def _stage_chunks(path: Path, chunks: Iterable[bytes]) -> Path:
    """The chunks, one after the other, in a new 0600 file beside `path`, on disk; its temporary path
    (removed again when writing or making a chunk fails)."""
    for _ in range(8):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, _FLAGS, 0o600)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _fail(path, exc) from None
    else:  # pragma: no cover - eight random 64-bit names taken
        raise OutputError(f"cannot write {path}: no free temporary name")
    try:
        try:
            for data in chunks:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            os.fchmod(fd, 0o600)  # whatever the umask
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _fail(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


class Outputs:
    """A command's output files, renamed into place together or not at all.

        with Outputs() as out:
            out.add(folder / "report.html", html)
            out.add(folder / "findings.csv", csv_text)
            ...                      # a failure in the block removes every staged file
        # leaving the block renames them all

    `commit()` renames early, e.g. just before the database commit the files go with; if that
    commit then fails, the exception leaving the block (or `undo()`) takes the new files away again
    and puts back the files they replaced."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, target)
        self._placed: list[tuple[Path, Path | None]] = []  # (target, the earlier file kept aside, if any)
        self._committed = False

    def add(self, path: Path, data: str | bytes) -> Path:
        path = Path(path)
        if self._committed:
            raise RuntimeError("these outputs are already committed")
        if any(target == path for _, target in self._staged):
            raise ValueError(f"{path} is staged twice")
        _check_target(path)
        self._staged.append((_stage(path, _bytes(data)), path))
        return path

    def add_chunks(self, path: Path, chunks: Iterable[bytes]) -> Path:
        """As `add`, for a file too big to hold: its bytes a chunk at a time, as `chunks` makes them."""
        path = Path(path)
        if self._committed:
            raise RuntimeError("these outputs are already committed")
        if any(target == path for _, target in self._staged):
            raise ValueError(f"{path} is staged twice")
        _check_target(path)
        self._staged.append((_stage_chunks(path, chunks), path))
        return path

    @property
    def paths(self) -> list[Path]:
        return [target for _, target in self._staged]

    def commit(self) -> list[Path]:
        """Rename every staged file over its target (an earlier file is kept aside until `finish`).
        A failed rename undoes the ones before it and raises OutputError."""
        if self._committed:
            return self.paths
        try:
            for tmp, target in self._staged:
                aside = None
                try:
                    if target.exists() or target.is_symlink():
                        aside = target.with_name(f".{target.name}.{secrets.token_hex(8)}.old")
                        os.replace(target, aside)
                    os.replace(tmp, target)
                except OSError as exc:
                    if aside is not None and not target.exists():
                        os.replace(aside, target)
                    raise _fail(target, exc) from None
                self._placed.append((target, aside))
        except BaseException:
            self.undo()
            self.discard()
            raise
        for folder in {target.parent for target, _ in self._placed}:
            _fsync_dir(folder)
        self._committed = True
        return self.paths

    def finish(self) -> None:
        """Forget the earlier files kept aside: the outputs stand."""
        for _, aside in self._placed:
            if aside is not None:
                aside.unlink(missing_ok=True)
        self._placed = [(target, None) for target, _ in self._placed]

    def undo(self) -> None:
        """Take away the files this set put in place and put back what they replaced."""
        for target, aside in reversed(self._placed):
            try:
                if aside is not None:
                    os.replace(aside, target)
                else:
                    target.unlink(missing_ok=True)
            except OSError:
                pass
        self._placed = []
        self._committed = False

    def discard(self) -> None:
        """Remove the staged files not yet renamed."""
        placed = {target for target, _ in self._placed}
        for tmp, target in self._staged:
            if target not in placed:
                tmp.unlink(missing_ok=True)

    def __enter__(self) -> "Outputs":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
            self.finish()
        else:
            self.undo()
            self.discard()

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)


def write_private(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` with mode 0600, whole or not at all."""
    with Outputs() as out:
        out.add(path, data)


def check_empty_folder(target: Path) -> Path:
    """`target`, unless something is there other than an empty folder (OutputError)."""
    target = Path(target)
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise OutputError(f"{target} exists and is not an empty folder")
    return target


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A new output folder of many files (a Parquet export), built under a random hidden name beside
    `target` (0700) and renamed into place whole when the block ends; on any failure (a full disk, a
    kill before the rename) no part of it is at `target`, and the staging folder is removed. Refused
    (OutputError) when `target` is a link, a file or a folder that is not empty. Files in it are made
    owner-only and fsynced before the rename."""
    target = check_empty_folder(target)
    parent = private_folder(target.parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise _fail(target, exc) from None
    try:
        yield staging
        for folder, _, files in os.walk(staging):
            for name in files:
                fd = os.open(Path(folder) / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                try:
                    os.fchmod(fd, 0o600)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            _fsync_dir(Path(folder))
        os.rename(staging, target)  # replaces an empty folder; a folder filled meanwhile refuses
        _fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _fail(target, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def private_folder(path: Path) -> Path:
    """A folder for outputs (created 0700 when new); OutputError when it cannot be made."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path} exists and is not a folder") from None
    except OSError as exc:
        raise OutputError(f"cannot create folder {path}: {exc.strerror or type(exc).__name__}") from None
    if not path.is_dir():
        raise OutputError(f"{path} exists and is not a folder")
    return path


_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def read_private(folder: Path, *names: str) -> bytes:
    """The file `folder`/names[0]/.../names[-1], each name one component, opened step by step without
    following a link planted at any of them, and only if it is a regular file; NotFound otherwise
    (never which). For files the vault home keeps (reports, release packets, certificates) that a
    web page serves by id: a request names no path."""
    if not names or any(n in ("", ".", "..") or "/" in n or "\0" in n for n in names):
        raise NotFound("no such file")
    opened: list[int] = []
    try:
        opened.append(os.open(folder, _READ | os.O_DIRECTORY))
        for name in names[:-1]:
            opened.append(os.open(name, _READ | os.O_DIRECTORY, dir_fd=opened[-1]))
        opened.append(os.open(names[-1], _READ | os.O_NONBLOCK, dir_fd=opened[-1]))  # a FIFO does not block
        if not stat.S_ISREG(os.fstat(opened[-1]).st_mode):
            raise NotFound("no such file")
        with os.fdopen(opened.pop(), "rb") as file:
            return file.read()
    except OSError:  # absent, a link (ELOOP), not a folder, not readable
        raise NotFound("no such file") from None
    finally:
        for fd in opened:
            os.close(fd)
