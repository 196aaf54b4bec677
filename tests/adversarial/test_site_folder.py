"""An attacker who can write the site folder (`--site`: site.yaml, the logo, template overrides) but
not the privacy officer's files: the report must not embed a file from outside the folder, run
code, or make the PDF renderer fetch a URL. Each attack goes through `auditor report monthly`."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from auditor.home import create_home
from tests.adversarial.conftest import png
from tests.conftest import FAST_SCRYPT
from tests.reporting.report_data import hospital_month


@pytest.fixture
def home(tmp_path, clock):
    vault = create_home(tmp_path / "home", clock=clock, scrypt_n=FAST_SCRYPT)
    hospital_month(vault)
    vault.close()
    return tmp_path / "home"


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


def _report(auditor, tmp_path, site, *extra):
    return auditor("report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "out"), "--site", str(site),
                   *extra, user="officer")


def _one_line(result) -> str:
    assert result.code == 2, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: ") and "Traceback" not in result.err, result.err
    return lines[0]


def _nothing_written(tmp_path: Path) -> None:
    """No report (and so no embedded keyring) was written."""
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())


def _keyring_link(home: Path, site: Path) -> None:
    (site / "logo.png").symlink_to(home / "keyring.json")


def _keyring_via_folder_link(home: Path, site: Path) -> None:
    (site / "img").symlink_to(home)


def _image_outside(home: Path, site: Path) -> None:
    (site.parent / "stolen.png").write_bytes(png())


def _keyring_renamed(home: Path, site: Path) -> None:
    (site / "logo.png").write_bytes((home / "keyring.json").read_bytes())


@pytest.mark.parametrize("logo, plant, refusal", [
    ("../stolen.png", _image_outside, "not a plain relative name"),
    ("logo.png", _keyring_link, "symbolic link"),
    ("img/keyring.json", _keyring_via_folder_link, "symbolic link"),
    ("{home}/keyring.json", lambda home, site: None, "not a plain relative name"),
    ("logo.png", _keyring_renamed, "is not a PNG, JPEG or GIF image"),
], ids=["dot-dot", "symlinked-logo", "symlinked-folder", "absolute", "keyring-named-logo.png"])
def test_the_logo_is_the_site_folders_own_image(auditor, home, site, tmp_path, logo, plant, refusal):
    plant(home, site)
    (site / "site.yaml").write_text(f"organisation: Attacker\nlogo: {logo.format(home=home)}\n")
    line = _one_line(_report(auditor, tmp_path, site, "--no-pdf"))
    assert refusal in line
    _nothing_written(tmp_path)


def test_an_oversized_logo_is_refused(auditor, home, site, tmp_path):
    (site / "logo.png").write_bytes(png() + b"\0" * (2 << 20))
    (site / "site.yaml").write_text("logo: logo.png\n")
    assert "larger than" in _one_line(_report(auditor, tmp_path, site, "--no-pdf"))


def test_a_real_png_logo_in_a_subfolder_is_embedded(auditor, home, site, tmp_path):
    (site / "brand").mkdir()
    (site / "brand" / "logo.png").write_bytes(png(4, 2))
    (site / "site.yaml").write_text("organisation: St. Elsewhere\nlogo: brand/logo.png\n")
    result = _report(auditor, tmp_path, site)
    assert result.code == 0, result.err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert f'src="data:image/png;base64,{base64.b64encode(png(4, 2)).decode()}"' in html


@pytest.mark.parametrize("payload", [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ self.__init__.__globals__.__builtins__.open('MARKER', 'w') }}",
    "{% set _ = appendix.rules.append(1) %}{{ appendix.rules|length }}",
], ids=["cycler-popen", "lipsum-system", "subclasses", "builtins-open", "mutate-context"])
def test_a_site_template_runs_no_code(auditor, home, site, tmp_path, payload, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (site / "_partials").mkdir()
    (site / "_partials" / "signoff.html").write_text(f"<section id=\"sign-off\">{payload}</section>")
    line = _one_line(_report(auditor, tmp_path, Path("site"), "--no-pdf"))  # named as a user would
    assert "report template _partials/signoff.html:1: " in line and "unsafe" in line, line
    assert not (tmp_path / "MARKER").exists()
    assert not (tmp_path / "out").exists()


def test_a_site_template_that_is_a_link_is_refused(auditor, home, site, tmp_path):
    (site / "_partials").mkdir()
    (site / "_partials" / "signoff.html").symlink_to(home / "keyring.json")
    assert "symbolic link" in _one_line(_report(auditor, tmp_path, site, "--no-pdf"))
    (site / "_partials" / "signoff.html").unlink()
    (site / "_partials" / "signoff.html").write_text('{% include "_partials/secret.html" %}')
    (site / "_partials" / "secret.html").symlink_to(home / "keyring.json")
    assert "symbolic link" in _one_line(_report(auditor, tmp_path, site, "--no-pdf"))
    _nothing_written(tmp_path)


SVGS = {
    "image-href": '<svg xmlns="http://www.w3.org/2000/svg"><image href="{url}/a.png" width="9" height="9"/></svg>',
    "xlink-href": ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                   '<image xlink:href="{url}/b.png" width="9" height="9"/></svg>'),
    "style-import": '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url({url}/c.css);</style></svg>',
    "fill-url": '<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9" fill="url({url}/d#p)"/></svg>',
    "css-escape": ('<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9" '
                   'style="fill: \\75rl({url}/e#p)"/></svg>'),
    "entity": ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "{url}/f">]>'
               '<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'),
    "stylesheet-pi": ('<?xml version="1.0"?><?xml-stylesheet href="{url}/g.css"?>'
                      '<svg xmlns="http://www.w3.org/2000/svg"/>'),
    "animate-href": ('<svg xmlns="http://www.w3.org/2000/svg"><image width="9" height="9">'
                     '<set attributeName="href" to="{url}/h.png"/></image></svg>'),
    "comment-split": ('<svg xmlns="http://www.w3.org/2000/svg"><style>@im<!-- -->port url({url}/i.css);</style>'
                      '</svg>'),
}


@pytest.mark.parametrize("svg", SVGS, ids=list(SVGS))
def test_an_svg_logo_fetches_nothing(auditor, home, site, tmp_path, listener, svg):
    url, seen = listener
    (site / "logo.svg").write_text(SVGS[svg].format(url=url))
    (site / "site.yaml").write_text("logo: logo.svg\n")
    line = _one_line(_report(auditor, tmp_path, site))  # with the PDF: WeasyPrint is what fetched
    assert "logo.svg" in line and "SVG drawing we accept" in line
    assert seen == []
    assert not (tmp_path / "out").exists()


def test_a_plain_svg_logo_still_works(auditor, home, site, tmp_path):
    (site / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                   '<defs><linearGradient id="g"/></defs><rect width="9" height="9" fill="url(#g)"/>'
                                   '<use href="#g"/></svg>')
    (site / "site.yaml").write_text("logo: logo.svg\n")
    result = _report(auditor, tmp_path, site)
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "report.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("markup", [
    '<img src="{url}/logo.png">',
    '<style>@import url("{url}/site.css");</style>',
    '<img src="file://{home}/keyring.json">',
    '<img src="file://{site}/../stolen.png">',
], ids=["img-http", "css-import-http", "file-keyring", "file-dot-dot"])
def test_the_pdf_fetches_nothing_outside_reports_and_the_site(auditor, home, site, tmp_path, listener, markup):
    url, seen = listener
    (tmp_path / "stolen.png").write_bytes(png())
    (site / "_partials").mkdir()
    (site / "_partials" / "signoff.html").write_text(
        '<section id="sign-off">' + markup.format(url=url, home=home, site=site) + "</section>")
    line = _one_line(_report(auditor, tmp_path, site))
    assert "outside reports/ and the site folder" in line
    assert seen == []
    _nothing_written(tmp_path)


def test_the_pdf_may_use_a_file_of_the_site_folder(auditor, home, site, tmp_path):
    (site / "seal.png").write_bytes(png(3, 3))
    (site / "_partials").mkdir()
    (site / "_partials" / "signoff.html").write_text(f'<section id="sign-off"><img src="file://{site}/seal.png">'
                                                     "Signed</section>")
    result = _report(auditor, tmp_path, site)
    assert result.code == 0, result.err
    assert (tmp_path / "out" / "report.pdf").stat().st_size > 0
    assert os.stat(tmp_path / "out" / "report.pdf").st_mode & 0o777 == 0o600


@pytest.mark.parametrize("tied", ["family-access", "coworker-access", "neighbor-access", "self-access"])
def test_a_site_policy_cannot_rank_a_snoop_on_family_or_colleagues_as_an_expected_gap(auditor, home, tmp_path, tied):
    policies = tmp_path / "site-policies"
    policies.mkdir()
    (policies / "engine.yaml").write_text(f"explanations: {{}}\nexpected_gaps: [no-treatment-relationship, {tied}]\n")
    line = _one_line(auditor("report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "out"), "--no-pdf",
                             "--site-policies", str(policies), user="officer"))
    assert tied in line and "never ranks as an expected gap" in line
    _nothing_written(tmp_path)


BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]" for before, name in zip("abcdefgh", "bcdefghi")]
    + ["explanations: {}", ""])


@pytest.mark.timeout(60)
def test_a_site_policy_of_nested_aliases_is_refused_not_expanded(auditor, home, tmp_path):
    """Nine levels of nine aliases is a few hundred bytes that expand to 387 million values: lint and the
    monthly report refuse it at once, naming the file, where they used to walk it until killed."""
    policies = tmp_path / "site-policies"
    policies.mkdir()
    (policies / "engine.yaml").write_text(BILLION_LAUGHS)
    lint = auditor("policy", "lint", "--site-policies", str(policies), user="officer")
    assert lint.code == 2 and "Traceback" not in lint.err
    assert lint.out.strip() == (f"{policies / 'engine.yaml'}:1: not valid YAML: found an alias of the content "
                                "anchored here; anchors and aliases are not allowed")
    line = _one_line(auditor("report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "out"), "--no-pdf",
                             "--site-policies", str(policies), user="officer"))
    assert "engine.yaml:1: not valid YAML" in line and "aliases are not allowed" in line
    _nothing_written(tmp_path)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _endless(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _oversized(path: Path) -> None:
    path.write_text("explanations: {}\n" + "#" * (1 << 20) + "\n")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("plant, refusal", [(_fifo, "is not a regular file"), (_endless, "is not a regular file"),
                                            (_oversized, "is larger than 1024 KiB")],
                         ids=["fifo", "link-to-dev-zero", "oversized"])
def test_a_site_policy_that_is_no_plain_file_is_refused_not_read(auditor, home, tmp_path, plant, refusal):
    """A FIFO named engine.yaml would make the read wait for a writer forever, a link to /dev/zero would
    read until memory runs out: both are refused before any read, as is a file over 1 MiB."""
    policies = tmp_path / "site-policies"
    policies.mkdir()
    plant(policies / "engine.yaml")
    lint = auditor("policy", "lint", "--site-policies", str(policies), user="officer")
    assert lint.code == 2 and lint.out.strip() == f"{policies / 'engine.yaml'}:1: {refusal}", (lint.out, lint.err)
    line = _one_line(auditor("report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "out"), "--no-pdf",
                             "--site-policies", str(policies), user="officer"))
    assert f"engine.yaml:1: {refusal}" in line
    _nothing_written(tmp_path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("plant, refusal", [(_fifo, "is not a regular file"), (_endless, "is a symbolic link")],
                         ids=["fifo", "link-to-dev-zero"])
def test_a_site_cases_file_that_is_no_plain_file_is_refused_not_read(auditor, home, tmp_path, plant, refusal):
    """The site's cases.yaml (the review budget) is read like the report's site files: never a FIFO,
    never through a link."""
    policies = tmp_path / "site-policies"
    policies.mkdir()
    plant(policies / "cases.yaml")
    line = _one_line(auditor("cases", "list", "--site-policies", str(policies), user="officer"))
    assert line.startswith(f"auditor: {policies}: 'cases.yaml' {refusal}"), line
