"""What two runs of the monthly report must share: report.html without what is each run's own."""

from __future__ import annotations

import re
from pathlib import Path


def report_text(folder: Path) -> str:
    """report.html without the moments it was made and its log verified, and the log's size and root
    then (the check runs beside the review, which records as it goes: each run's own)."""
    html = (folder / "report.html").read_text()
    html = re.sub(r"the log's [\d,]+ events", "the log's <n> events", html)
    html = re.sub(r"root <code>[0-9a-f]+…</code>", "root <root>", html)
    return re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?(\.\d+)?([+-]\d{2}:?\d{2}|Z| UTC)?", "<time>", html)
