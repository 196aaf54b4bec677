"""The README's first command ends one command away from the web app: `auditor demo` adds a staff
account to its vault (auditor.review.demo.add_demo_account), prints how to start `auditor serve` on
that vault and sign in (password, otpauth:// URI, TOTP secret, marked demo-only) and keeps the same
lines in a 0600 file; the printed command serves the vault and the printed account signs in."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx2
import pyotp
import pytest
from starlette.testclient import TestClient

from auditor.clock import FixedClock
from auditor.home import Vault
from auditor.review.demo import DEMO_ROLES
from auditor.staff.accounts import StaffAccounts
from auditor.web.app import create_app
from tests.staff.helpers import staff_events
from tests.web.conftest import csrf_of
from tests.web.test_serve import ROOT, _fetch, _free_port

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


def _printed(out: str) -> dict[str, str]:
    """The demo's sign-in, as a person reads it off the screen."""
    serve = re.search(r"^  (auditor serve --home \S+)$", out, re.M).group(1)
    signin = re.search(r"user (\S+) \(([^)]*)\), password (\S+),$", out, re.M)
    uri = re.search(r"(otpauth://totp/\S+)", out).group(1)
    secret = re.search(r"pyotp\.TOTP\('([A-Z2-7]+)'\)\.now\(\)", out).group(1)
    return {"serve": serve, "user": signin.group(1), "roles": signin.group(2), "password": signin.group(3),
            "uri": uri, "secret": secret}


def _sign_in(client, user: str, password: str, code: str) -> None:
    form = client.get("/login")
    done = client.post("/login", data={"user": user, "password": password, "csrf_token": csrf_of(form.text)})
    assert done.headers["location"] == "/login/code", done.text
    page = client.get("/login/code")
    done = client.post("/login/code", data={"code": code, "csrf_token": csrf_of(page.text)})
    assert done.headers["location"] == "/", done.text


def test_the_demo_prints_a_demo_account_that_signs_in_to_the_web_app(auditor, tmp_path):
    out = tmp_path / "demo"
    made = auditor("demo", "--out", out, "--events", "2000", "--no-pdf", clock=FixedClock(NOW))
    assert made.code == 0, made.err
    shown = _printed(made.out)
    assert shown["serve"] == f"auditor serve --home {out / 'vault'}"
    assert made.out.splitlines()[-4].strip() == shown["serve"]  # the last thing said: the one command
    assert "DEMO ONLY" in made.out and shown["user"] == "demo.officer"
    assert pyotp.parse_uri(shown["uri"]).secret == shown["secret"]
    kept = out / "sign-in.txt"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.read_text().startswith("DEMO ONLY") and shown["password"] in kept.read_text()
    clock = FixedClock(NOW + timedelta(minutes=5))
    vault = Vault.open(out / "vault", clock=clock)
    try:
        [account] = StaffAccounts(vault).list()
        assert account.roles == tuple(sorted(DEMO_ROLES)) and shown["roles"] == ", ".join(
            r.replace("_", " ") for r in account.roles)
        added = [e for e in staff_events(vault) if "demo.officer added" in e[3]]
        assert added and "by the holder of the vault home" in added[0][3]
        with TestClient(create_app(vault, clock=clock), follow_redirects=False) as client:
            _sign_in(client, shown["user"], shown["password"], pyotp.TOTP(shown["secret"]).at(clock.at))
            home = client.get("/")
            assert "Signed in as <strong>demo.officer</strong>" in home.text and 'href="/accounts"' in home.text
    finally:
        vault.close()
    assert auditor("--home", out / "vault", "audit", "verify").code == 0


@pytest.mark.timeout(180)
def test_the_printed_serve_command_serves_the_demo_vault(auditor, tmp_path):
    made = auditor("demo", "--out", tmp_path / "demo", "--events", "2000", "--no-pdf")
    assert made.code == 0, made.err
    shown = _printed(made.out)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AUDITOR_HOME": str(tmp_path / "not-a-vault")}  # --home wins
    command = shlex.split(shown["serve"])[1:] + ["--port", str(port)]
    server = subprocess.Popen([sys.executable, "-m", "auditor", *command], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        _fetch(f"http://127.0.0.1:{port}/login", time.monotonic() + 60)
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
            _sign_in(client, shown["user"], shown["password"], pyotp.TOTP(shown["secret"]).now())
            assert "Signed in as <strong>demo.officer</strong>" in client.get("/").text
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert shown["password"] not in err and shown["secret"] not in err


def test_serve_help_says_which_vault_where_to_sign_in_and_how_to_get_an_account(auditor):
    text = " ".join(auditor("serve", "--help").out.split())
    for words in ("--home", "$AUDITOR_HOME", "http://127.0.0.1:8000/login", "auditor users add", "--role admin",
                  "otpauth://", "auditor demo", "SIGTERM", "AUDITOR_PASSPHRASE", "--behind-proxy", "15 idle",
                  "Content-Security-Policy without inline script"):
        assert words in text, words
