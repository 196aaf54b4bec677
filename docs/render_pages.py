"""Render the first pages of a report PDF as the PNG pictures shown in the README.

    pip install -e '.[docs]' && python docs/render_pages.py REPORT.pdf [PAGES...] [--out FOLDER]

The pictures in docs/ come from `auditor demo` (a synthetic hospital: no real PHI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MISSING = "render_pages.py needs pypdfium2: pip install -e '.[docs]' (or pip install pypdfium2)"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("pages", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder of the PNGs (default: docs/)")
    args = parser.parse_args(argv)
    try:
        import pypdfium2
    except ImportError:
        print(MISSING, file=sys.stderr)
        return 2
    pdf = pypdfium2.PdfDocument(args.pdf)
    for number in args.pages:
        image = pdf[number - 1].render(scale=1.0).to_pil().convert("P", palette=1, colors=64)
        target = args.out / f"report-page-{number}.png"
        image.save(target, optimize=True)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
