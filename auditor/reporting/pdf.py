"""The PDF of a report: its HTML laid out by WeasyPrint, which may fetch only data: URLs and files
inside our reports/ folder and the site folder. A site template or logo that points anywhere else (a
URL on the network, keyring.json) stops the PDF with one line instead of being fetched: a report
that silently lacks what its site put in is no better than one that leaked.

Imported only when a PDF is made: WeasyPrint needs the Pango libraries."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint import HTML
from weasyprint.urls import URLFetcher

from auditor.errors import ConfigurationError


class ConfinedFetcher(URLFetcher):
    """A URL fetcher that says no to everything but data: and file: inside the allowed folders, and
    remembers what it refused (WeasyPrint turns a fetcher's exception into a warning and goes on)."""

    def __init__(self, folders: list[Path]) -> None:
        super().__init__()  # no network scheme reaches it, so no redirect either
        self.folders = [Path(f).resolve() for f in folders]
        self.refused: list[str] = []

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return True
        if scheme != "file" or parts.netloc not in ("", "localhost"):
            return False
        path = Path(url2pathname(parts.path)).resolve()  # resolve: a link inside may point outside
        return any(path.is_relative_to(folder) for folder in self.folders)

    def fetch(self, url, headers=None):
        if not self._allowed(url):
            parts = urlsplit(url)
            # the scheme and host only: a path or query may carry what a template put in it
            self.refused.append(f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}: URL")
            raise ConfigurationError("refused: outside reports/ and the site folder")
        return super().fetch(url, headers)


def render_pdf(html: str, folders: list[Path]) -> bytes:
    fetcher = ConfinedFetcher(folders)
    pdf = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    if fetcher.refused:
        raise ConfigurationError(f"the report refers to {fetcher.refused[0]}, outside reports/ and the site folder "
                                 "(only data: URLs and files there are allowed); fix the site's templates or logo")
    return pdf
