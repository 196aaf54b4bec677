"""auditor init | db upgrade | keys rotate through the command line: database URLs that cannot work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.cli.test_cli import one_line_error

PASSWORD = "s3cret-pw"


@pytest.mark.parametrize("url, why", [
    (f"postgresql+psycopg://u:{PASSWORD}@db.example:abc/records", "the database URL's port is not a number"),
    (f"postgresql+psycopg://u:{PASSWORD}@db.example:70000/records", "port 70000 is out of range"),
    (f"postgresql+psycopg://u:{PASSWORD}@db.example/", "the database URL names no database"),
    (f"postgres://u:{PASSWORD}@db.example/records", "unsupported database backend 'postgres': write postgresql+psycopg://"),
    (f"mysql://u:{PASSWORD}@db.example/records", "unsupported database backend 'mysql'"),
    (f"postgresql+nodriver://u:{PASSWORD}@db.example/records", "unknown database driver 'postgresql+nodriver'"),
    (f"u:{PASSWORD}@db.example/records", "the database URL is not a URL of the form backend://"),
    ("sqlite://", "a SQLite database URL must name a file"),
])
@pytest.mark.parametrize("option", ["--database-url", "--keystore-url"])
def test_init_with_a_malformed_url_says_what_is_wrong_and_makes_nothing(auditor, tmp_path, url, why, option):
    error = one_line_error(auditor("init", option, url))
    assert why in error and PASSWORD not in error
    assert not (tmp_path / "home").exists()


def test_init_on_postgresql_without_the_driver_names_the_pip_install(tmp_path):
    home = tmp_path / "home"
    # Python's own way to say a module is not installed: None in sys.modules makes its import fail
    program = "import sys; sys.modules['psycopg'] = None; from auditor.cli import main; main(sys.argv[1:])"
    url = f"postgresql+psycopg://auditor:{PASSWORD}@db.example/records"
    done = subprocess.run([sys.executable, "-c", program, "init", "--database-url", url], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "AUDITOR_HOME": str(home)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "driver 'psycopg' for postgresql+psycopg:// is not installed; run: pip install 'auditor[postgres]'" in done.stderr
    assert PASSWORD not in done.stderr and not home.exists()
