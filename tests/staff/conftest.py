"""Staff fixtures: a vault with its first admin, codes computed from an enrolment's otpauth:// URI
(as an authenticator app computes them), and the CLI run in-process with a standard input."""

from __future__ import annotations

import os
from datetime import datetime
from typing import NamedTuple
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.staff.accounts import Enrolment, StaffAccounts

ADMIN_PASSWORD = "tangerine lighthouse"


def secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


def code_at(uri: str, at: datetime, steps: int = 0) -> str:
    """The code an authenticator app shows at `at` (`steps` of 30 s later or earlier)."""
    return pyotp.TOTP(secret_of(uri)).at(at, counter_offset=steps)


@pytest.fixture
def admin(vault) -> Enrolment:
    """The vault's first admin, alice (added with no one signed in, as on a fresh vault)."""
    return StaffAccounts(vault).add("alice", "Alice Admin", ("admin",), ADMIN_PASSWORD, None)


class Result(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def staff_cli(tmp_path, monkeypatch):
    """Run `auditor ARGS` in-process with `input` on standard input (click's own isolation of the
    streams). AUDITOR_HOME is tmp_path/home; the session token goes to a private XDG_RUNTIME_DIR."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("AUDITOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)

    def run(*args, input: str | None = None, clock=None) -> Result:
        with CliRunner().isolation(input=input) as (out, err, _):
            try:
                main([str(a) for a in args], clock=clock)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            return Result(code, out.getvalue().decode(), err.getvalue().decode())

    run.runtime = runtime
    return run


def only_file(folder) -> os.PathLike:
    [path] = list(folder.iterdir())
    return path
