"""How a page hands over a file that holds PHI (a report, a release packet, a letter, a certificate, a
proof): as an attachment to save, never shown inline, never kept by a cache, its name made by the
app (an id and a kind, never a name from the vault), and how a page sends the browser on to another
page of the app by name."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from auditor.web.routing import View


def attachment(name: str, content: bytes, media_type: str) -> Response:
    """`content` as a download named `name` (ASCII letters, digits, '.', '-': the app's own)."""
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def to_page(view: View, name: str, **params: int) -> Response:
    """303 See Other to the page `name` with its path parameters (internal numbers only)."""
    return RedirectResponse(view.request.url_for(name, **{k: str(v) for k, v in params.items()}).path,
                            status_code=303)


def path_number(view: View, name: str) -> int:
    """A path parameter declared `{name:int}` in the page's path."""
    return int(view.request.path_params[name])
