"""`auditor listen` (auditor.ingest.listener): ATNA messages over TLS syslog (RFC 5425) and UDP
(RFC 5426) land in the log as `ingest --format atna` would load them, with mutual TLS when asked; what
is not ATNA is quarantined with its place; a listener killed mid-stream loses nothing it had received,
and the next one ingests its spool without duplicates."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auditor.home import Vault
from auditor.ingest.listener import SWITCH_SECONDS, AtnaListener, tls_context
from auditor.ingest.spool import SPOOL, Spool
from auditor.ingest.syslog import atna_syslog, frame
from tests.ingest.formats.test_atna import _message
from tests.ingest.tls_certs import make_certificates

ZONE = "America/New_York"


@pytest.fixture
def hospital(auditor, tmp_path):
    """A vault holding a simulated export's context, and ATNA messages for some of its accesses."""
    export = tmp_path / "export"
    assert auditor("simulate", "--out", str(export), "--seed", "6", "--events", "2000").code == 0
    assert auditor("init").code == 0
    header = (export / "access_log.csv").read_text(encoding="utf-8").splitlines()[0]
    with open(export / "access_log.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["mrn"] and r["action"] in ("view", "update")]
    (export / "access_log.csv").write_text(header + "\n", encoding="utf-8")  # the accesses come by syslog
    assert auditor("ingest", str(export), "--tz", ZONE).code == 0
    return tmp_path / "home", [atna_syslog(_message(r)) for r in rows]


def _events(home: Path, source: str) -> list[str]:
    """The event ids the log holds from `source` (imported events are keyed in audit_imported_keys)."""
    from sqlalchemy import select

    from auditor.audit.schema import ImportedEventKey as Key

    vault = Vault.open(home)
    try:
        with vault.records.connect() as conn:
            return list(conn.scalars(select(Key.source_event_id).where(Key.source == source)))
    finally:
        vault.close()


def _body(message: bytes) -> bytes:
    from auditor.ingest.syslog import parse_message
    return parse_message(message)[1]


def _send_tls(port: int, messages: list[bytes], certs: dict, client_cert: bool = False, read_back: bool = False) -> None:
    context = ssl.create_default_context(cafile=str(certs["ca"]))
    if client_cert:
        context.load_cert_chain(certs["client"], certs["client_key"])
    with socket.create_connection(("127.0.0.1", port)) as raw, context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(b"".join(frame(m) for m in messages))
        if read_back:  # TLS 1.3 refuses a missing client certificate after the handshake: read to hear it
            s.recv(1)


class Running:
    """The listener on its own event loop in a thread, as `auditor listen` runs it."""

    def __init__(self, listener: AtnaListener) -> None:
        self.listener, self.ready = listener, threading.Event()
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.listener.run(self.stop, lambda _: self.ready.set()))

    def __enter__(self) -> "Running":
        self.thread.start()
        assert self.ready.wait(30)
        return self

    def port(self, kind: str) -> int:
        return int(next(e for e in self.listener.counts.endpoints if e.startswith(kind)).rsplit(":", 1)[1])

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(60)


def test_tls_and_udp_messages_land_in_the_log_once(hospital, tmp_path):
    home, messages = hospital
    certs = make_certificates(tmp_path)
    vault = Vault.open(home)
    spool = Spool(tmp_path / "spool", vault.keyring.log_mac_key)
    try:
        listener = AtnaListener(vault.gateway, spool, "pacs", vault.timezone,
                                tls=("127.0.0.1", 0, tls_context(certs["server"], certs["server_key"], certs["ca"])),
                                udp=("127.0.0.1", 0), batch=50, interval=0.2)
        switch = sys.getswitchinterval()
        with Running(listener) as running:
            assert sys.getswitchinterval() <= SWITCH_SECONDS < switch  # the receiving loop is not kept waiting
            _send_tls(running.port("tls"), messages[:100] + [b"<13>1 - - - - other - hello"], certs, client_cert=True)
            try:  # mutual TLS: a sender without a client certificate is refused (counted below: nothing of it loads)
                _send_tls(running.port("tls"), messages[200:205], certs, read_back=True)
            except (ssl.SSLError, ConnectionError, OSError):
                pass
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                for m in messages[100:120]:
                    udp.sendto(m, ("127.0.0.1", running.port("udp")))
            deadline = time.monotonic() + 30
            while listener.counts.received < 121 and time.monotonic() < deadline:
                time.sleep(0.05)
        summary = listener.summary
    finally:
        spool.close()
        vault.close()
    counts = summary.files["listener:pacs"]
    assert (counts.loaded, counts.rejected) == (120, 1)
    assert sys.getswitchinterval() == switch  # the process is left as it was
    assert [e.reason for e in summary.rejected] == ["a syslog message whose MSGID is not IHE+RFC-3881"]
    assert len(set(_events(home, "pacs"))) == 120
    assert (tmp_path / "spool" / SPOOL).stat().st_size == 0  # all of it in the log: the spool starts again


def test_a_killed_listener_loses_nothing_it_received_and_adds_nothing_twice(hospital, tmp_path):
    home, messages = hospital
    certs = make_certificates(tmp_path)
    env = dict(os.environ, AUDITOR_HOME=str(home))
    command = [sys.executable, "-m", "auditor", "listen", "--tls", "127.0.0.1:0", "--cert", str(certs["server"]),
               "--key", str(certs["server_key"]), "--source", "pacs", "--batch", "40"]

    def start() -> tuple[subprocess.Popen, int]:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = process.stdout.readline()
        assert line.startswith("listening on tls 127.0.0.1:"), (line, process.stderr.read() if process.poll() else "")
        return process, int(line.strip().rsplit(":", 1)[1])

    first, port = start()
    spool = home / "spool" / "pacs" / SPOOL
    _send_tls(port, messages[:150], certs)
    deadline = time.monotonic() + 30
    while (not spool.exists() or spool.stat().st_size < sum(len(m) + 36 for m in messages[:150])) \
            and time.monotonic() < deadline:
        time.sleep(0.01)  # received: on disk (some of it may already be ingested and the spool cut back)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    second, port = start()
    _send_tls(port, messages[150:200], certs)
    time.sleep(1.5)
    second.send_signal(signal.SIGTERM)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "rejected" in out
    ids = _events(home, "pacs")
    import hashlib
    digest = {"sha256:" + hashlib.sha256(_body(m)).hexdigest()[:32]: n for n, m in enumerate(messages[:200])}
    missing = sorted(n for d, n in digest.items() if d not in set(ids))
    assert len(ids) == len(set(ids)) == 200, (missing, len(digest), out[-500:])


@pytest.mark.parametrize("args,message", [
    ((), "give --tls HOST:PORT"),
    (("--tls", "127.0.0.1:port", "--cert", "{cert}", "--key", "{cert}"), "--tls takes HOST:PORT"),
    (("--tls", "127.0.0.1:6514"), "--tls needs --cert and --key"),
    (("--tls", "127.0.0.1:6514", "--cert", "{cert}", "--key", "{cert}"), "the TLS certificate or key cannot be used"),
    (("--udp", "127.0.0.1:0", "--source", "vault"), "the name of the vault's own events"),
    (("--udp", "127.0.0.1:0", "--source", "../x"), "--source must be a name"),
])
def test_listen_s_bad_input_is_one_line_exit_2(auditor, tmp_path, args, message):
    assert auditor("init").code == 0
    (tmp_path / "not-a-cert.pem").write_text("not a certificate")
    done = auditor("listen", *(a.format(cert=tmp_path / "not-a-cert.pem") for a in args))
    assert done.code == 2 and message in done.err and len(done.err.strip().splitlines()) == 1, done.err


def test_a_sender_still_connected_when_the_listener_stops_loses_nothing_it_sent(hospital, tmp_path):
    home, messages = hospital
    certs = make_certificates(tmp_path)
    vault = Vault.open(home)
    spool = Spool(tmp_path / "spool", vault.keyring.log_mac_key)
    try:
        listener = AtnaListener(vault.gateway, spool, "pacs", vault.timezone, drain=1.0,
                                tls=("127.0.0.1", 0, tls_context(certs["server"], certs["server_key"])))
        running = Running(listener).__enter__()
        context = ssl.create_default_context(cafile=str(certs["ca"]))
        raw = socket.create_connection(("127.0.0.1", running.port("tls")))
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sender:
            sender.sendall(b"".join(frame(m) for m in messages[:40]) + frame(messages[40])[:30])
            running.__exit__(None, None, None)  # stopped while the sender is still connected
        summary = listener.summary
    finally:
        spool.close()
        vault.close()
    assert summary.files["listener:pacs"].loaded == 40
    assert listener.counts.cut_short == 1  # the frame it had begun: never received whole
