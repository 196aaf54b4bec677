"""auditor serve serving TLS itself (--tls-cert, --tls-key, --client-ca): a real server in a subprocess
on a free loopback port. A feed account's registered client certificate stands for its bearer token;
a certificate of the same CA registered for nobody, or for a revoked account, opens nothing (401); one
another CA signed fails the handshake; a browser without a certificate still reaches the login page.
Certificates are made in the test (tests/ingest/tls_certs)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from auditor.clock import FixedClock
from tests.ingest.tls_certs import make_certificates
from tests.web.fhir_feeds import FHIR, event
from tests.web.test_serve import ROOT, _free_port

CLOCK = FixedClock(datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc))


def _context(certs: dict, client: dict | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    if client is not None:
        context.load_cert_chain(str(client["client"]), str(client["client_key"]))
    return context


def _post(port: int, context: ssl.SSLContext, resource: dict, token: str | None = None) -> int:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    headers = {"Content-Type": FHIR} | ({"Authorization": f"Bearer {token}"} if token else {})
    try:
        connection.request("POST", "/fhir/AuditEvent", body=json.dumps(resource), headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _get(port: int, context: ssl.SSLContext, path: str, deadline: float) -> int:
    while True:
        try:
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            connection.request("GET", path)
            return connection.getresponse().status
        except (ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            connection.close()


def _certificates(folder: Path, clients: tuple[str, ...] = ("client",)) -> dict:
    folder.mkdir()
    return make_certificates(folder, clients)


@pytest.mark.timeout(180)
def test_a_registered_client_certificate_stands_for_the_token_and_nothing_else_does(auditor, tmp_path):
    ours = _certificates(tmp_path / "ours", ("client", "stranger"))  # one CA: the server's, pacs's, a stranger's
    pacs = {"client": ours["client"], "client_key": ours["client_key"]}
    stranger = {"client": ours["stranger"], "client_key": ours["stranger_key"]}  # our CA's, registered for nobody
    unregistered = _certificates(tmp_path / "elsewhere")  # another CA's: refused in the handshake
    assert auditor("init", "--no-passphrase", clock=CLOCK).code == 0
    added = auditor("feeds", "add", "pacs", "--scope", "feed", "--certificate", str(pacs["client"]), clock=CLOCK,
                    user="admin")
    assert added.code == 0, added.err
    token = added.out.strip()
    listed = json.loads(auditor("feeds", "list", "--format", "json", clock=CLOCK, user="admin").out)
    assert listed[0]["name"] == "pacs" and len(listed[0]["certificate_sha256"]) == 64

    port = _free_port()
    env = {**os.environ, "AUDITOR_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("AUDITOR_PASSPHRASE", None)
    server = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--port", str(port),
                               "--tls-cert", str(ours["server"]), "--tls-key", str(ours["server_key"]),
                               "--client-ca", str(ours["ca"])],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        browser = _context(ours, None)
        assert _get(port, browser, "/login", time.monotonic() + 60) == 200  # no certificate: the pages still open
        with_certificate = _context(ours, pacs)
        assert _post(port, with_certificate, event(1, mrn=None, action="E")) == 201  # no token: the certificate
        assert _post(port, browser, event(2, mrn=None, action="E")) == 401  # neither
        assert _post(port, browser, event(3, mrn=None, action="E"), token) == 201  # the token alone still works
        assert _post(port, _context(ours, stranger), event(4, mrn=None, action="E")) == 401  # same CA, not registered
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):  # another CA's: refused in the handshake
            _post(port, _context(ours, unregistered), event(5, mrn=None, action="E"))
        assert auditor("feeds", "revoke", "pacs", clock=CLOCK, user="admin").code == 0
        assert _post(port, with_certificate, event(6, mrn=None, action="E")) == 401
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert f"serving the privacy office on https (client certificates asked for) at 127.0.0.1:{port}" in err


@pytest.mark.parametrize("args, said", [
    (("--tls-cert", "{junk}", "--tls-key", "{key}"), "are not a PEM certificate and its private key"),
    (("--tls-cert", "{cert}", "--tls-key", "{other_key}"), "are not a PEM certificate and its private key"),
    (("--tls-cert", "{cert}", "--tls-key", "{key}", "--client-ca", "{junk}"), "--client-ca junk.pem holds no PEM"),
    (("--tls-cert", "{cert}"), "--tls-cert and --tls-key go together"),
    (("--client-ca", "{cert}"), "--client-ca needs --tls-cert and --tls-key"),
    (("--tls-cert", "{cert}", "--tls-key", "{key}", "--behind-proxy"), "--behind-proxy is for a proxy that ends TLS"),
])
def test_serve_refuses_tls_options_that_do_not_go_together(auditor, tmp_path, args, said):
    certs = _certificates(tmp_path / "certs")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    auditor("init", "--no-passphrase")
    files = {"cert": certs["server"], "key": certs["server_key"], "other_key": certs["client_key"],
             "junk": tmp_path / "junk.pem"}  # the client's key does not go with the server's certificate
    done = auditor("serve", *[a.format(**files) for a in args])
    assert done.code == 2 and said in done.err and len(done.err.strip().splitlines()) == 1


def test_the_server_offers_no_tls_below_1_2_and_no_cbc_suite():
    from auditor.cli.web_commands import _tls_options

    ciphers = _tls_options(Path("c.pem"), Path("k.pem"), None)["ssl_ciphers"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers(ciphers)
    names = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert names and all("GCM" in n or "CHACHA20" in n for n in names) and all(n.startswith("ECDHE") for n in names)
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
