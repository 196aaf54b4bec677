"""The Jinja environment of every report: our templates in reports/, a site's folder in front of
them (it overrides any template, and names the organisation and its logo in site.yaml).

StrictUndefined and autoescape: in a compliance report a missing value fails loudly instead of
rendering blank, and no name from the vault can inject markup."""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from auditor.errors import ConfigurationError
from auditor.resources import REPORTS_DIR

SITE_FILE = "site.yaml"
_LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml", "image/gif"}


@dataclass(frozen=True)
class Site:
    """Who the report is for: the organisation's name and logo (a data: URI, so the HTML stays
    self-contained), from the site folder's site.yaml."""

    organisation: str = "Your organisation"
    logo: str | None = None
    folder: Path | None = None


def load_site(folder: Path | None, organisation: str | None = None) -> Site:
    if folder is None:
        return Site(organisation or Site.organisation)
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigurationError(f"site folder {folder} does not exist")
    doc = {}
    if (folder / SITE_FILE).exists():
        try:
            doc = yaml.safe_load((folder / SITE_FILE).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise ConfigurationError(f"{folder / SITE_FILE}{where}: not valid YAML") from None
        if not isinstance(doc, dict) or set(doc) - {"organisation", "logo"}:
            raise ConfigurationError(f"{folder / SITE_FILE}: only 'organisation' and 'logo' may be set")
    logo = None
    if doc.get("logo"):
        path = folder / str(doc["logo"])
        kind = mimetypes.guess_type(path.name)[0]
        if not path.is_file() or kind not in _LOGO_TYPES:
            raise ConfigurationError(f"{folder / SITE_FILE}: logo {doc['logo']!r} is not a PNG, JPEG, GIF or SVG "
                                     "file in the site folder")
        logo = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
    return Site(organisation or str(doc.get("organisation") or Site.organisation), logo, folder)


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _signed(value) -> str:
    if value is None:
        return "n/a"
    return f"+{value:,}" if value > 0 else f"{value:,}"


def _day(value) -> str:
    if isinstance(value, (date, datetime)):
        return value.strftime("%Y-%m-%d")
    return str(value)[:10]


def _moment(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    return str(value)


def _css_string(value) -> Markup:
    """Text for a CSS string literal in a <style> block (running headers of the PDF)."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return Markup(text)


def environment(site: Site) -> Environment:
    loaders = [FileSystemLoader(str(site.folder))] if site.folder else []
    env = Environment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(REPORTS_DIR))]),
                      undefined=StrictUndefined, autoescape=select_autoescape(["html", "xml"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=_number, percent=_percent, signed=_signed, day=_day, moment=_moment,
                       css_string=_css_string)
    env.globals["inline_css"] = lambda name: Markup(env.loader.get_source(env, name)[0])  # type: ignore[union-attr]
    return env
