"""An attacker's starting point: a vault that holds a month of a simulated hospital's EHR activity,
ingested and audited through the CLI, whose records database the attacker may then edit directly (as
anyone with write access to records.db can, with the sqlite3 shell or any SQLite library)."""

from __future__ import annotations

import http.server
import json
import shutil
import sqlite3
import struct
import threading
import zlib
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from auditor.cli import main
from tests.signed_in import sign_in

MONTH_FROM, MONTH_TO = "2026-11-01", "2026-11-30"


def _run(*args: str) -> None:
    try:
        main(list(args))
    except SystemExit as exc:
        assert exc.code == 0, (args, exc.code)


@pytest.fixture(scope="session")
def hospital_home(tmp_path_factory) -> Path:
    """A vault made once per test session: `auditor init`, a simulated month (4,000 accesses) ingested,
    then `auditor findings` over November (signed in as an investigator), all through the CLI. Tests
    copy it (`attacked_home`)."""
    root = tmp_path_factory.mktemp("hospital")
    home = root / "home"
    _run("simulate", "--out", str(root / "export"), "--seed", "7", "--events", "4000")
    _run("--home", str(home), "init")
    _run("--home", str(home), "ingest", str(root / "export"), "--tz", "America/New_York")
    with pytest.MonkeyPatch.context() as env:  # the rules' run, signed in; its token outside the home
        (root / "run").mkdir(mode=0o700)
        env.setenv("XDG_RUNTIME_DIR", str(root / "run"))
        sign_in(home, "analyst")
        _run("--home", str(home), "findings", "--from", MONTH_FROM, "--to", MONTH_TO, "--format", "json",
             "--out", str(root / "findings.json"))
    return home


@pytest.fixture
def attacked_home(hospital_home, tmp_path, monkeypatch) -> Path:
    """A private copy of the hospital's vault home, which AUDITOR_HOME names for the test."""
    home = tmp_path / "home"
    shutil.copytree(hospital_home, home)
    settings = json.loads((home / "home.json").read_text())
    for key in ("database_url", "keystore_url"):  # a copy whose settings still name the original's files
        if settings[key].startswith("sqlite:///") and str(hospital_home) in settings[key]:
            settings[key] = settings[key].replace(str(hospital_home), str(home))
    (home / "home.json").write_text(json.dumps(settings))
    monkeypatch.setenv("AUDITOR_HOME", str(home))
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)
    return home


@contextmanager
def records_db(home: Path):
    """The attacker's connection to records.db: plain SQLite, no auditor code, committed on exit."""
    with closing(sqlite3.connect(home / "records.db")) as conn:
        yield conn
        conn.commit()


def png(width: int = 1, height: int = 1) -> bytes:
    """A real PNG image (grey pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def listener():
    """An HTTP server on 127.0.0.1 that records every connection made to it."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def setup(self):
            seen.append("connection")
            super().setup()

        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(png())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
