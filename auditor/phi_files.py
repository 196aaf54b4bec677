"""Files that hold PHI outside the vault (findings, reports, release packets): written whole, readable
by their owner only, never left half-written."""

from __future__ import annotations

import os
from pathlib import Path

from auditor.errors import InputError


def write_private(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` with mode 0600 through a temporary file renamed into place."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    if not path.parent.is_dir():
        raise InputError(f"no such folder: {path.parent}")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
