"""Reading a monthly report's HTML by its sections."""

from __future__ import annotations

import re


def section(html: str, name: str) -> str:
    """The <section id=name> of the report, whole; fails the test when there is none."""
    match = re.search(rf'<section[^>]*id="{name}".*?</section>', html, re.S)
    assert match, name
    return match.group(0)
