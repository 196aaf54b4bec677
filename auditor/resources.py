"""Where auditor's own data is: the rule files (policies/) and the report templates (reports/).

A checkout keeps both beside the package, as the developers' guide lays it out; a wheel carries them
inside it as auditor/policies and auditor/reports (pyproject.toml maps them there). Every reader asks
here, so a checkout run from source, an editable install and a wheel read the same files.

A site changes the rules and the templates with --site-policies and --site, on the command line:
no environment variable swaps the built-in ones unseen."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# pip unpacks a wheel into a folder, and Jinja and Alembic read real files, so this is a Path.
_PACKAGE = Path(str(files("auditor")))


def _folder(name: str) -> Path:
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name  # a checkout, run from source or installed with pip install -e
    return _PACKAGE / name  # installed from a wheel: package data


POLICIES_DIR = _folder("policies")
REPORTS_DIR = _folder("reports")
