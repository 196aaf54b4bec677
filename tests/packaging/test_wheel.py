"""The wheel is what `pip install auditor` takes from an index: it must carry the rule files and the
report templates, and run from an empty folder outside the checkout, installed into a fresh virtual
environment with nothing but its declared dependencies (at the versions constraints.txt pins)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"

# Building, installing about 40 packages (pip's cache makes it quick) and a small demo.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _copy_checkout(target: Path) -> None:
    """The files git sees (tracked, or new and not ignored): a build in the checkout would leave
    build/ behind, and a stale build/lib can carry a deleted template into the next wheel."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the files to build from are those git lists")
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes((ROOT / name).read_bytes())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    _copy_checkout(source)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--build-constraint", CONSTRAINTS,
         "--wheel-dir", dist, source)
    [wheel] = dist.glob("auditor-*.whl")
    return source, wheel


def test_the_wheel_holds_every_module_rule_file_and_template(built):
    source, wheel = built
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"auditor/{p.relative_to(source / 'auditor').as_posix()}" for p in (source / "auditor").rglob("*")
               if p.suffix in (".py", ".mako") and "__pycache__" not in p.parts}
    data = {f"auditor/{p.relative_to(source).as_posix()}" for folder, suffixes in
            (("policies", (".yaml",)), ("reports", (".html", ".css"))) for p in (source / folder).rglob("*")
            if p.suffix in suffixes}
    web = source / "auditor" / "web"  # the web app's templates and static files (htmx, its licence)
    data |= {f"auditor/web/{p.relative_to(web).as_posix()}" for p in web.rglob("*")
             if p.is_file() and p.parent.name in ("templates", "static")}
    assert len(data) > 30 and any(n.startswith("auditor/policies/rules/") for n in data)
    missing = sorted((modules | data) - names)
    assert not missing, f"not in the wheel (add its package to [tool.setuptools] packages): {missing}"
    assert not [n for n in names if n.startswith(("policies/", "reports/"))], "data outside the package"


def test_the_installed_wheel_lints_and_runs_the_demo_from_an_empty_folder(built, tmp_path):
    _, wheel = built
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python, auditor = venv / "bin" / "python", venv / "bin" / "auditor"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--constraint", CONSTRAINTS, wheel)
    elsewhere, home = tmp_path / "elsewhere", tmp_path / "home"
    elsewhere.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDITOR_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), TMPDIR=str(home))
    where = _run(python, "-c", "from auditor import resources as r; print(r.POLICIES_DIR); print(r.REPORTS_DIR)",
                 cwd=elsewhere, env=env).stdout.split()
    package = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "auditor"
    assert where == [str(package / "policies"), str(package / "reports")]  # the wheel's, not the checkout's
    lint = _run(auditor, "policy", "lint", cwd=elsewhere, env=env)
    assert "no problems" in lint.stdout
    demo = _run(auditor, "demo", "--events", "20000", "--no-pdf", cwd=elsewhere, env=env)
    [report] = [elsewhere / line.strip() for line in demo.stdout.splitlines() if line.strip().endswith("report.html")]
    assert "<title>Monthly privacy audit report" in report.read_text(encoding="utf-8")
