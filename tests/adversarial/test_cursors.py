"""An attacker with the site folder and the two cursors kept there: spool/SOURCE/cursor (how far the
listener's spool is in the log) and forward/HOST_PORT/cursor (how far the forwarder has sent). Moved
forward, a cursor would make the listener skip messages it received, or the forwarder skip events
never sent; so an edited, truncated, copied or stale cursor, or one beyond the end, is refused (one
line, exit 2 from the CLI), never reset or accepted. A deleted one starts over: the spool is ingested
again (event ids keep out duplicates), the log is sent again from its first event."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest

from auditor.crypto.cursor_seal import CursorSeal, cursor_key
from auditor.errors import CursorRefused
from auditor.ingest.spool import CURSOR, Spool
from tests.ingest.tls_certs import make_certificates

KEY = b"m" * 32  # the log MAC key the spool's and the cursor's keys come from


def _spool(folder, messages=(b"one", b"two", b"three"), upto: int = 1):
    """A spool of `folder` holding `messages`, its cursor after the first `upto`; the offsets."""
    spool = Spool(folder, KEY)
    spool.append(list(messages))
    ends = [end for end, _ in spool.pending()]
    spool.advance(ends[upto - 1])
    spool.close()
    return ends


def _pending(folder, key=KEY) -> list[bytes]:
    spool = Spool(folder, key)
    try:
        return [m for _, m in spool.pending()]
    finally:
        spool.close()


@pytest.mark.parametrize("attack", ["position", "seal", "plain", "truncated", "empty", "binary"])
def test_an_edited_or_truncated_spool_cursor_is_refused_never_reset(tmp_path, attack):
    folder = tmp_path / "spool" / "pacs"
    ends = _spool(folder)
    cursor = folder / CURSOR
    text = cursor.read_text()
    version, position, seal = text.split()
    edited = {"position": f"{version} {ends[2]} {seal}\n",  # skip "two" and "three"
              "seal": f"{version} {position} {seal[:-1]}{'0' if seal[-1] != '0' else '1'}\n",
              "plain": f"{ends[2]}\n", "truncated": text[: len(text) // 2], "empty": "",
              "binary": "\x00\xff"}[attack]
    cursor.write_bytes(edited.encode("latin-1"))
    with pytest.raises(CursorRefused, match=r"spool/pacs/cursor: .*refused, never reset: delete it"):
        Spool(folder, KEY)
    assert cursor.read_bytes() == edited.encode("latin-1")  # left as it was found, for the office to look at
    cursor.unlink()  # deleted: the spool is ingested again from its start, nothing skipped
    assert _pending(folder) == [b"one", b"two", b"three"]


def test_a_cursor_copied_from_another_source_or_another_vault_is_refused(tmp_path):
    first, second = tmp_path / "spool" / "pacs", tmp_path / "spool" / "ris"
    _spool(first)
    shutil.copytree(first, second)  # the same bytes: only the place tells them apart
    with pytest.raises(CursorRefused, match="seal does not match"):
        Spool(second, KEY)
    with pytest.raises(CursorRefused, match="seal does not match"):
        Spool(first, b"another vault's log MAC key!!!!!")
    assert _pending(first) == [b"two", b"three"]  # the cursor where it belongs still works


def test_a_cursor_left_from_before_a_compaction_is_refused(tmp_path):
    """A genuine cursor kept aside and put back once the spool has started again and grown past it:
    its seal is the vault's, its place is right, but the record that ended there is gone."""
    folder = tmp_path / "spool" / "pacs"
    _spool(folder, [b"a", b"b"], upto=2)
    stale = (folder / CURSOR).read_bytes()
    spool = Spool(folder, KEY)
    spool.compact()
    spool.append([b"c" * 40, b"d", b"e"])
    spool.close()
    (folder / CURSOR).write_bytes(stale)
    with pytest.raises(CursorRefused, match="seal does not match"):
        Spool(folder, KEY)


def test_a_cursor_beyond_the_spool_s_end_is_refused(tmp_path):
    folder = tmp_path / "spool" / "pacs"
    ends = _spool(folder, upto=3)
    with open(folder / "received.spool", "r+b") as f:  # the spool cut short under its cursor
        f.truncate(ends[1])
    with pytest.raises(CursorRefused, match=f"points at {ends[2]}, beyond the end"):
        Spool(folder, KEY)


def test_the_listener_refuses_a_forged_cursor_in_one_line_before_listening(auditor, tmp_path):
    assert auditor("init").code == 0
    folder = tmp_path / "home" / "spool" / "pacs"
    folder.mkdir(parents=True)
    (folder / CURSOR).write_text("auditor-cursor/1 999 " + "ab" * 32 + "\n")
    env = dict(os.environ, AUDITOR_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "auditor", "listen", "--udp", "127.0.0.1:0", "--source", "pacs"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "listening" not in done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and "spool/pacs/cursor" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_cursor_forged_while_the_listener_runs_stops_it_and_loses_nothing(auditor, tmp_path):
    """The listener reads its cursor before each batch: one forged meanwhile stops it with the refusal
    (never a listener that goes on receiving and ingests nothing), and what it received is in the spool."""
    import asyncio

    from auditor.home import Vault
    from auditor.ingest.listener import AtnaListener

    assert auditor("init").code == 0
    vault = Vault.open(tmp_path / "home")
    folder = tmp_path / "home" / "spool" / "modalities"
    spool = Spool(folder, vault.keyring.log_mac_key)
    listener = AtnaListener(vault.gateway, spool, "modalities", vault.timezone, udp=("127.0.0.1", 0), interval=0.05)
    ready, stop, outcome = threading.Event(), asyncio.Event(), []

    def run() -> None:
        try:
            asyncio.run(listener.run(stop, lambda _: ready.set()))
        except BaseException as exc:  # noqa: BLE001 (what the listener ended with is the test's to see)
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        port = int(listener.counts.endpoints[0].rsplit(":", 1)[1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>1 - - - - other - first", ("127.0.0.1", port))
            for _ in range(400):
                if (folder / CURSOR).exists() and spool.size == 0:  # the first in the log (quarantined), the
                    break  # spool started again: the listener writes its cursor no more until a message comes
                threading.Event().wait(0.025)
            (folder / CURSOR).write_text("99999\n")  # forged: would skip what comes next
            udp.sendto(b"<13>1 - - - - other - second", ("127.0.0.1", port))
            thread.join(30)
        assert not thread.is_alive(), "the listener went on with a forged cursor"
    finally:
        if thread.is_alive():
            thread.join(0)
        spool.close()
        vault.close()
    assert len(outcome) == 1 and isinstance(outcome[0], CursorRefused)
    (folder / CURSOR).unlink()
    vault = Vault.open(tmp_path / "home")
    try:  # the second, when it came before the stop, is in the spool, never ingested past the forged cursor
        second = [b"<13>1 - - - - other - second"] if listener.counts.received == 2 else []
        assert _pending(folder, vault.keyring.log_mac_key) == second
    finally:
        vault.close()


@contextmanager
def _receiver(certs):
    """A TLS receiver on loopback that keeps what each connection sent (a SIEM that says nothing)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["server"], certs["server_key"])
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    connections: list[bytearray] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = server.accept()
            except OSError:
                continue
            got = bytearray()
            connections.append(got)
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    while chunk := tls.recv(65536):
                        got.extend(chunk)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], connections
    finally:
        stop.set()
        thread.join(10)
        server.close()


def _first_and_count(out: str) -> tuple[int, int]:
    return int(out.split("(events ")[1].split(" to ")[0]), int(out.split(" audit events sent")[0])


def test_the_forwarder_refuses_a_forged_copied_or_too_far_cursor_and_sends_nothing(auditor, tmp_path):
    from auditor.home import Vault

    certs = make_certificates(tmp_path)
    assert auditor("init").code == 0
    with _receiver(certs) as (port, connections):
        forward = ("forward", "--to", f"127.0.0.1:{port}", "--tls", "--ca", str(certs["ca"]))
        first = auditor(*forward, user="officer")
        assert first.code == 0, first.err
        assert _first_and_count(first.out)[0] == 1 and len(connections) == 1
        cursor = tmp_path / "home" / "forward" / f"127.0.0.1_{port}" / "cursor"
        good = cursor.read_text()
        sent_up_to = int(good.split()[1])

        vault = Vault.open(tmp_path / "home")
        key = cursor_key(vault.keyring.log_mac_key, "forward")
        vault.close()
        other = CursorSeal(tmp_path / "other", key, "forward:127.0.0.1:1", "")  # another receiver's, genuine
        other.write(sent_up_to)
        beyond = CursorSeal(tmp_path / "beyond", key, f"forward:127.0.0.1:{port}", "")  # sealed right, too far
        beyond.write(sent_up_to + 10_000)
        attacks = {"edited": good.replace(f" {sent_up_to} ", f" {sent_up_to + 5} "), "plain": f"{sent_up_to + 5}\n",
                   "truncated": good[:20], "copied": other.path.read_text(), "beyond": beyond.path.read_text()}
        for name, text in attacks.items():
            cursor.write_text(text)
            refused = auditor(*forward, user="officer")
            assert refused.code == 2, (name, refused.out)
            assert len(refused.err.strip().splitlines()) == 1 and "cursor" in refused.err, (name, refused.err)
            assert "delete it to send the whole log to this receiver again" in refused.err
            assert len(connections) == 1, name  # refused before connecting: nothing sent
            assert cursor.read_text() == text, name

        cursor.write_text(good)
        resumed = auditor(*forward, user="officer")
        assert resumed.code == 0, resumed.err  # the genuine cursor: on from where it was, nothing again
        assert resumed.out.startswith("0 audit events sent") or _first_and_count(resumed.out)[0] > sent_up_to
        cursor.unlink()  # deleted: everything is sent again, from the first event, and the run says so
        again = auditor(*forward, user="officer")
        assert again.code == 0 and _first_and_count(again.out)[0] == 1
