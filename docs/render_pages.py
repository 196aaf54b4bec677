"""Render the first pages of a report PDF as the PNG pictures shown in the README.

    pip install pypdfium2 && python docs/render_pages.py REPORT.pdf [PAGES...]

The pictures in docs/ come from `auditor demo` (a synthetic hospital: no real PHI)."""

from __future__ import annotations

import sys
from pathlib import Path

import pypdfium2


def main(pdf_path: str, *pages: str) -> None:
    pdf = pypdfium2.PdfDocument(pdf_path)
    for number in [int(p) for p in pages] or [1, 2]:
        image = pdf[number - 1].render(scale=1.0).to_pil().convert("P", palette=1, colors=64)
        target = Path(__file__).parent / f"report-page-{number}.png"
        image.save(target, optimize=True)
        print(target)


if __name__ == "__main__":
    main(*sys.argv[1:])
