"""auditor serve: a real server in a subprocess on a free loopback port, fetched over HTTP and stopped;
a non-loopback address refused without --behind-proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(url: str, deadline: float):
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)
        except urllib.error.HTTPError as exc:
            return exc
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.timeout(120)
def test_serve_answers_on_loopback_logs_routes_and_stops(auditor, tmp_path):
    assert auditor("init", "--no-passphrase").code == 0
    port = _free_port()
    env = {**os.environ, "AUDITOR_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("AUDITOR_PASSPHRASE", None)
    server = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = _fetch(f"http://127.0.0.1:{port}/login?mrn=MRN-00042", time.monotonic() + 60)
        assert page.status == 200 and b"Sign in" in page.read()
        assert page.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert "server" not in {k.lower() for k in page.headers}
        home = _fetch(f"http://127.0.0.1:{port}/", time.monotonic() + 10)
        assert home.url.endswith("/login")  # redirected: not signed in
    finally:
        server.send_signal(signal.SIGTERM)  # as a service manager stops it
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert f"serving the privacy office on http at 127.0.0.1:{port}" in err and err.rstrip().endswith("stopped")
    access = [line for line in err.splitlines() if "auditor.web.access" in line]
    assert any('"GET /login" 200' in line for line in access) and any('"GET /" 303' in line for line in access)
    assert "MRN-00042" not in err + out


def test_serve_refuses_an_address_beyond_loopback_without_a_proxy(auditor):
    auditor("init", "--no-passphrase")
    done = auditor("serve", "--host", "0.0.0.0")
    assert done.code == 2 and "--host 0.0.0.0 is not a loopback address" in done.err and "--behind-proxy" in done.err


def test_serve_help_says_how_it_is_served(auditor):
    text = auditor("serve", "--help").out
    for words in ("--host", "--port", "--behind-proxy", "--proxy-address", "TLS proxy", "15 idle", "no-store"):
        assert words in " ".join(text.split()), words


def test_serve_refuses_a_broken_site_policy_before_it_listens(auditor, tmp_path):
    """The site's policies are read and linted when the app starts: a broken one stops it, in one line."""
    auditor("init", "--no-passphrase")
    site = tmp_path / "site-policies"
    site.mkdir()
    (site / "cases.yaml").write_text("id: cases\nversion: 1\nreview_budget: many\n", encoding="utf-8")
    done = auditor("serve", "--site-policies", str(site), "--port", "1")
    assert done.code == 2 and len(done.err.strip().splitlines()) == 1 and "review_budget" in done.err, done.err
    assert "Traceback" not in done.err
