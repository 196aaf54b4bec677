"""The web app's Jinja environment, made like the reports' (auditor.reporting.templates): the
immutable sandbox, StrictUndefined (a missing value fails loudly, never renders blank) and autoescape
(no name from the vault injects markup). The app's pages are in auditor/web/templates; the reports'
templates are behind them, so a page can include a report's partial."""

from __future__ import annotations

from datetime import date, datetime
from importlib.resources import files
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from auditor.resources import REPORTS_DIR

PACKAGE = Path(str(files("auditor.web")))
TEMPLATES_DIR = PACKAGE / "templates"
STATIC_DIR = PACKAGE / "static"


def _moment(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _role(value: str) -> str:
    return value.replace("_", " ")


def environment() -> Environment:
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES_DIR)), FileSystemLoader(str(REPORTS_DIR))]),
        undefined=StrictUndefined, autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(moment=_moment, role=_role)
    return env
