"""policies/cases.yaml: when a case becomes overdue, and how many cases a month the office reviews
(the review budget). A site's own cases.yaml overrides either."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import yaml

from auditor import yaml_files
from auditor.errors import ConfigurationError
from auditor.reporting.site_files import MAX_TEXT_BYTES, read_inside
from auditor.resources import POLICIES_DIR

DEFAULT_OVERDUE_AFTER_DAYS = 30
DEFAULT_REVIEW_BUDGET = 1000


@dataclass(frozen=True)
class CaseSettings:
    overdue_after_days: int = DEFAULT_OVERDUE_AFTER_DAYS
    review_budget: int = DEFAULT_REVIEW_BUDGET  # cases a month the office reviews: the first this many in triage order

    @property
    def overdue_after(self) -> timedelta:
        return timedelta(days=self.overdue_after_days)


def _read(path: Path) -> dict:
    try:  # a regular file of the folder, no link, at most 1 MiB: a site's FIFO or /dev/zero must not hang us
        doc = yaml_files.load(read_inside(path.parent, path.name, MAX_TEXT_BYTES, str(path.parent)).decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read the case settings ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise ConfigurationError(f"{path}: the case settings must be a mapping")
    return doc


def load_case_settings(path: Path | None = None, site_dir: Path | None = None) -> CaseSettings:
    """Ours (policies/cases.yaml), then the site's cases.yaml if its folder has one."""
    path = path or POLICIES_DIR / "cases.yaml"
    doc = _read(path)
    site = Path(site_dir) / "cases.yaml" if site_dir else None
    if site is not None and site.exists():
        doc, path = {**doc, **_read(site)}, site
    days = doc.get("overdue_after_days", DEFAULT_OVERDUE_AFTER_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigurationError(f"{path}: overdue_after_days must be a whole number of days, 1 or more")
    budget = doc.get("review_budget", DEFAULT_REVIEW_BUDGET)
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= 10_000_000:
        raise ConfigurationError(f"{path}: review_budget must be a whole number of cases, 1 or more")
    return CaseSettings(days, budget)
