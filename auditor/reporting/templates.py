"""The Jinja environment of every report: our templates in reports/, a site's folder in front of
them (it overrides any template, and names the organisation and its logo in site.yaml).

StrictUndefined and autoescape: in a compliance report a missing value fails loudly instead of
rendering blank, and no name from the vault can inject markup. Every template, ours and the site's,
runs in Jinja's immutable sandbox: a site template reads the report's values and nothing else (no
attribute walk to os.popen, no changing the context). A site's files are read by
auditor.reporting.site_files: inside the folder, through no symbolic link."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2 import select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from auditor import yaml_files
from auditor.errors import ConfigurationError
from auditor.resources import REPORTS_DIR
from auditor.reporting.site_files import MAX_LOGO_BYTES, MAX_TEXT_BYTES, image_type, read_inside

SITE_FILE = "site.yaml"


@dataclass(frozen=True)
class Site:
    """Who the report is for: the organisation's name and logo (a data: URI, so the HTML stays
    self-contained), from the site folder's site.yaml."""

    organisation: str = "Your organisation"
    logo: str | None = None
    folder: Path | None = None


def _site_document(folder: Path) -> dict:
    where = str(folder / SITE_FILE)
    try:
        text = read_inside(folder, SITE_FILE, MAX_TEXT_BYTES, where)
    except FileNotFoundError:
        return {}
    try:
        doc = yaml_files.load(text.decode("utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigurationError(f"{where}: not UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigurationError(f"{where}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None
    if not isinstance(doc, dict) or set(doc) - {"organisation", "logo"}:
        raise ConfigurationError(f"{where}: only 'organisation' and 'logo' may be set")
    return doc


def _logo(folder: Path, name: str) -> str:
    """The logo as a data: URI, after checking that it is the site's own file and an image."""
    where = str(folder / SITE_FILE)
    try:
        data = read_inside(folder, name, MAX_LOGO_BYTES, where)
    except FileNotFoundError:
        raise ConfigurationError(f"{where}: logo {name!r} is not a file in the site folder") from None
    return f"data:{image_type(data, where, name)};base64,{base64.b64encode(data).decode()}"


def load_site(folder: Path | None, organisation: str | None = None) -> Site:
    if folder is None:
        return Site(organisation or Site.organisation)
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigurationError(f"site folder {folder} does not exist")
    doc = _site_document(folder)
    logo = _logo(folder, str(doc["logo"])) if doc.get("logo") else None
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


class SiteLoader(BaseLoader):
    """A site folder's template overrides, read by read_inside: a name that is not in the folder
    falls through to ours; one that leaves it or passes through a link stops the report."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).absolute()  # the file names an error shows (writers._failing_template)

    def get_source(self, environment: Environment, template: str):
        try:
            data = read_inside(self.folder, template, MAX_TEXT_BYTES, f"site template {template}")
        except FileNotFoundError:
            raise TemplateNotFound(template) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"site template {template}: not UTF-8") from None
        return text, str(self.folder / template), lambda: True  # an environment lives for one report


def environment(site: Site) -> Environment:
    loaders = [SiteLoader(site.folder)] if site.folder else []
    env = ImmutableSandboxedEnvironment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(REPORTS_DIR))]),
                                        undefined=StrictUndefined,
                                        autoescape=select_autoescape(["html", "xml"], default=True),
                                        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=_number, percent=_percent, signed=_signed, day=_day, moment=_moment,
                       css_string=_css_string)
    env.globals["inline_css"] = lambda name: Markup(env.loader.get_source(env, name)[0])  # type: ignore[union-attr]
    return env
