"""The CLI's session token: a file only its OS account can read (0600), in $XDG_RUNTIME_DIR (a tmpfs
the system empties at logout) when there is one, else in the vault home. One per vault home and OS
account; it holds the token of a server-side session (auditor.staff.sessions), which ends after 15
idle minutes or 12 hours whatever the file says."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from auditor.errors import ConfigurationError
from auditor.phi_files import write_private

FORMAT = "auditor-session/1"


def token_path(home: Path) -> Path:
    """Where the token for `home` is kept for this OS account."""
    name = f"auditor-session-{hashlib.sha256(str(home).encode()).hexdigest()[:16]}-{os.geteuid()}.token"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir() and _private_folder(Path(runtime)):
        return Path(runtime) / name
    return home / name


def write_token(home: Path, token: str) -> Path:
    path = token_path(home)
    write_private(path, json.dumps({"format": FORMAT, "home": str(home), "token": token}).encode() + b"\n")
    return path


def read_token(home: Path) -> str | None:
    """The token for `home`, or None when there is none. A file that others could read, or that is
    not this account's, is refused (someone else may have planted or read it)."""
    path = token_path(home)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the session token {path} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise ConfigurationError(f"the session token {path} is not private to this account (mode "
                                     f"{stat.S_IMODE(info.st_mode):o}): remove it and run auditor login")
        try:
            doc = json.loads(handle.read(4096))
        except ValueError:
            return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("home") != str(home):
        return None
    token = doc.get("token")
    return token if isinstance(token, str) else None


def remove_token(home: Path) -> bool:
    try:
        token_path(home).unlink()
    except FileNotFoundError:
        return False
    return True


def _private_folder(folder: Path) -> bool:
    info = folder.stat()
    return info.st_uid == os.geteuid() and not stat.S_IMODE(info.st_mode) & 0o077
