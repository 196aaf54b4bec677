"""Files a site folder supplies (site.yaml, the logo, template overrides): read only from inside the
folder, never through a symbolic link, with a size limit, and the logo accepted only when its bytes
are a PNG, JPEG or GIF image or an SVG drawing that refers to nothing outside itself.

Whoever can write the site folder must not make a report embed a file the officer can read
(keyring.json, records.db) or make the PDF renderer fetch a URL. The path is opened one component
at a time relative to the folder with O_NOFOLLOW, so a link planted anywhere on it (or swapped in
while we read) is refused rather than followed. Hard links need no check of their own: the kernel's
protected_hardlinks (on by default) stops a user from linking a file they cannot read and write."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path, PurePosixPath
from xml.parsers import expat

from auditor.errors import ConfigurationError

MAX_LOGO_BYTES = 1 << 20  # a logo, not a photograph: 1 MiB
MAX_TEXT_BYTES = 1 << 20  # site.yaml and each template

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


def _parts(name: str, where: str) -> list[str]:
    """A plain relative name: no leading '/', no '..', no '.', no empty part, no backslash."""
    text = str(name)
    parts = text.split("/")
    if (not text or text.startswith("/") or "\\" in text or "\0" in text
            or any(p in ("", ".", "..") for p in parts)):
        raise ConfigurationError(f"{where}: {text!r} is not a plain relative name inside the site folder")
    return parts


def _refuse_link(dir_fd: int, part: str, where: str) -> None:
    try:
        info = os.stat(part, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise ConfigurationError(f"{where}: {part!r} is a symbolic link; the site folder's files must be "
                                 "its own") from None


def read_inside(folder: Path, name: str, limit: int, where: str) -> bytes:
    """The bytes of `name` (e.g. 'logo.png', '_partials/cover.html') inside `folder`. FileNotFoundError
    when there is no such file; ConfigurationError (naming `where`) when the name leaves the folder,
    passes through a symbolic link, is not a regular file or is larger than `limit` bytes."""
    parts = _parts(name, where)
    root = Path(folder).resolve()
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))]
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                fds.append(os.open(part, _FILE if last else _DIRECTORY, dir_fd=fds[-1]))
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    _refuse_link(fds[-1], part, where)
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise FileNotFoundError(name) from None
                raise ConfigurationError(f"{where}: cannot read {name!r} ({exc.strerror})") from None
        if not (root / PurePosixPath(*parts)).resolve().is_relative_to(root):  # belt and braces after the walk
            raise ConfigurationError(f"{where}: {name!r} is outside the site folder")
        info = os.fstat(fds[-1])
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"{where}: {name!r} is not a regular file")
        if info.st_size > limit:
            raise ConfigurationError(f"{where}: {name!r} is larger than {limit // 1024} KiB")
        with os.fdopen(os.dup(fds[-1]), "rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:  # it grew while we read
            raise ConfigurationError(f"{where}: {name!r} is larger than {limit // 1024} KiB")
        return data
    finally:
        for fd in fds:
            os.close(fd)


# What an image's bytes begin with (the file's name proves nothing: keyring.json can be called logo.png)
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"))
_SVG = "http://www.w3.org/2000/svg"
_CSS_URL = re.compile(r"url\s*\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


class _Refused(Exception):
    pass


def _check_css(text: str) -> None:
    """CSS inside an SVG (style elements and attributes, presentation attributes) may only point at
    its own elements: url(#id). A backslash could spell 'url(' or '@import' as a CSS escape."""
    if _CSS_URL.search(text) or "@import" in text.lower() or "\\" in text:
        raise _Refused("a reference outside the drawing")


def _check_svg(data: bytes) -> None:
    """Parse with expat, refusing what could reach outside the drawing: a DOCTYPE (and with it every
    entity), processing instructions (xml-stylesheet), scripts, foreign objects, event handlers and
    any href or url() that is not a fragment of the drawing itself."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    texts: list[list[str]] = []

    def refuse(why: str):
        def handler(*_):
            raise _Refused(why)
        return handler

    def start(name: str, attrs: dict) -> None:
        ns, _, local = name.rpartition(" ")
        if not texts and (ns, local) != (_SVG, "svg"):
            raise _Refused("not an SVG drawing")
        if local in ("script", "foreignObject", "iframe", "handler", "set") or local.startswith("animate"):
            raise _Refused(f"a <{local}> element")  # animation can set an href after the checks
        for key, value in attrs.items():
            attribute = key.rpartition(" ")[2].lower()
            if attribute.startswith("on"):
                raise _Refused("an event handler")
            if attribute in ("href", "src") and not value.strip().startswith("#"):
                raise _Refused("a reference outside the drawing")
            _check_css(value)
        texts.append([])

    def end(name: str) -> None:
        _check_css("".join(texts.pop()))  # the element's text as CSS would read it, comments removed

    parser.StartDoctypeDeclHandler = refuse("a DOCTYPE")
    parser.EntityDeclHandler = refuse("an entity declaration")
    parser.ExternalEntityRefHandler = refuse("an external entity")
    parser.ProcessingInstructionHandler = refuse("a processing instruction")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = lambda text: texts[-1].append(text) if texts else None
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        raise _Refused("not well-formed XML") from None


def image_type(data: bytes, where: str, name: str) -> str:
    """The MIME type of a logo, from its bytes; ConfigurationError for anything else."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    try:
        _check_svg(data)
    except _Refused as why:
        raise ConfigurationError(f"{where}: logo {name!r} is not a PNG, JPEG or GIF image, nor an SVG drawing "
                                 f"we accept ({why})") from None
    return "image/svg+xml"
