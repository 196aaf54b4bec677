"""The web app served for a real browser: uvicorn in a thread of the test's process, on a loopback
socket bound to a free port, over a vault whose clock the test holds (a FixedClock it moves: a TOTP
code of a later time step, fifteen idle minutes, without sleeping). Everything the server logs is
kept, to be searched for PHI as `auditor serve`'s log would be."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import uvicorn

from auditor.clock import FixedClock
from auditor.home import Vault
from auditor.staff.accounts import StaffAccounts
from auditor.staff.roles import ADMIN
from auditor.web.app import create_app
from tests.web.office import Office, Phi, Staff, add_staff

SERVER_LOGGERS = ("auditor", "uvicorn")  # what `auditor serve` prints (auditor/cli/web_commands.py)


class LogLines(logging.Handler):
    """Every line the server's loggers write while it runs (any thread)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "")
        self.lines.append(f"{record.name}: {text}")

    def __enter__(self) -> "LogLines":
        for name in SERVER_LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.INFO)  # as serve's logging configuration sets them
            logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).removeHandler(self)
            logging.getLogger(name).setLevel(level)


class Uvicorn:
    """The app under uvicorn in a daemon thread; `stop()` ends it as SIGTERM would."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
                                       name=f"uvicorn:{self.port}")

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()


@dataclass
class LiveOffice:
    """A served office: its address, its open vault and clock, its staff (by role), its PHI, and
    what its server logged and what the browser asked for, both searched for PHI at the end."""

    url: str
    vault: Vault
    clock: FixedClock
    app: object
    staff: dict[str, Staff]
    phi: Phi
    log: LogLines
    requested: list[str] = field(default_factory=list)  # every URL the browser asked the server for

    def advance(self, **delta) -> None:
        """Move the server's clock on (timedelta's arguments: minutes=15, seconds=30)."""
        self.clock.at += timedelta(**delta)

    def add_staff(self, user: str, *roles: str) -> Staff:
        """Another account (added by the office's admin), e.g. a second records manager for a purge."""
        admin = next(a for a in StaffAccounts(self.vault).list() if a.user_name == ADMIN)
        made, _ = add_staff(self.vault, user, tuple(roles), admin)
        self.staff[user] = made
        return made

    def leaks(self) -> list[tuple[str, list[str]]]:
        """Log lines and requested URLs that hold an MRN or a patient's name."""
        return [(text, self.phi.found_in(text)) for text in self.log.lines + self.requested if self.phi.found_in(text)]


def serve_office(office: Office, clock: FixedClock, log: LogLines) -> tuple[LiveOffice, Uvicorn]:
    vault = office.open(clock)
    try:
        app = create_app(vault, clock=clock)
        server = Uvicorn(app)
        server.start()
    except BaseException:
        vault.close()
        raise
    live = LiveOffice(f"http://127.0.0.1:{server.port}", vault, clock, app, dict(office.staff), office.phi, log)
    return live, server
