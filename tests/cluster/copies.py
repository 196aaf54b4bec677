"""A copy of a vault home, pointed at its own databases (each test's engine judges a copy of its own)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def copy_home(source: Path, home: Path) -> Path:
    shutil.copytree(source, home)
    settings = json.loads((home / "home.json").read_text())
    for key in ("database_url", "keystore_url"):
        settings[key] = settings[key].replace(str(source), str(home))
    (home / "home.json").write_text(json.dumps(settings))
    return home
