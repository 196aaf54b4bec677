"""Web benchmark (issue 16): twenty privacy officers working the triage queue and case pages at once.

    python bench/web.py [--home HOME | --events N] [--sessions 20] [--rounds 10] [--think 5]

The vault is one that bench/policy.py kept (`--keep DIR`, then `--home DIR/home`: 10,000,000 events),
or N events generated and ingested here as bench/policy.py does. Once per vault, the month is reviewed
(auditor.review.period.review_period: the rule pack, findings into cases, each case's timeline kept)
if it has no cases yet or a case has no kept timeline, and a privacy officer's account is made (or its
password and code renewed) for the benchmark.

The app (auditor.web.app.create_app, what `auditor serve` runs) is served by uvicorn on a loopback
port in this process. Each of the sessions signs in (password, then TOTP) and then, `--rounds` times,
opens a page of the triage queue and one case of it (the case page reads the member and the patients
through the gateway as the signed-in officer: every view is an audit event, as in production).

Two loads, one after the other:
- working: each officer reads a page before opening the next, a pause drawn from an exponential
  distribution of mean `--think` seconds (5 s: quicker than anyone reads a case). The target is
  judged here: twenty people working at once.
- saturated: the same sessions with no pause at all (a closed loop): what the machine can serve,
  requests per second, and the latency when twenty requests are always waiting.

Baseline, in the same process: the same pages' work called directly through the application layer (the
queue and the case file the routes render, with the same reads as the officer), one after the other,
so the ratio says what HTTP, sessions, CSRF, templates and twenty-way contention add.

Not a timed test: it prints a table and, last, one JSON line. Target: p95 <= 300 ms for the queue and
the case pages on this 2-core machine. Needs `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pyotp
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import policy as policy_bench  # noqa: E402  (bench/policy.py: generate and ingest)

from auditor.clock import FixedClock, SystemClock  # noqa: E402
from auditor.errors import AuditorError  # noqa: E402
from auditor.home import Vault  # noqa: E402
from auditor.policy.rules import load_policy  # noqa: E402
from auditor.review.period import month_period, review_period  # noqa: E402
from auditor.staff.accounts import StaffAccounts  # noqa: E402
from auditor.web.app import create_app  # noqa: E402

MONTH = "2026-11"  # the month bench/policy_data.py generates
OFFICER = "bench-officer"
ADMIN = "bench-admin"
PASSWORD = "bench lighthouse tangerine"
TARGET_P95_MS = 300.0


# -- the vault: a reviewed month and an officer who can sign in -------------------------------------

def reviewed(vault: Vault) -> tuple[int, float]:
    """The month's cases, reviewing the month first if nothing was recorded yet, or if some case has no
    kept timeline (a vault reviewed before r0017: the review gives each one) (seconds it took)."""
    from sqlalchemy import func, select

    from auditor.cases.settings import load_case_settings
    from auditor.review.casework import list_cases
    from auditor.vault.records import Case, CaseTimeline

    with vault.records.connect() as conn:
        untimed = conn.execute(select(func.count()).select_from(Case)
                               .where(~select(CaseTimeline.id).where(CaseTimeline.case_id == Case.id).exists())).scalar_one()
    cases = list_cases(vault, load_case_settings())
    if cases and not untimed:
        return len(cases), 0.0
    started = time.perf_counter()
    review_period(vault, month_period(MONTH, vault.timezone), load_policy())
    return len(list_cases(vault, load_case_settings())), time.perf_counter() - started


def officer_secret(vault: Vault) -> str:
    """The benchmark officer's TOTP secret: the account made, or its password and code renewed."""
    accounts = StaffAccounts(vault)
    existing = {a.user_name: a for a in accounts.list()}
    admin = next((a for a in existing.values() if "admin" in a.roles and a.disabled_at is None), None)
    if admin is None:
        admin = accounts.add(ADMIN, "Benchmark Admin", ("admin",), PASSWORD, None).account
    if OFFICER in existing:
        enrolment = accounts.reset_password(OFFICER, PASSWORD, admin, new_code=True)
    else:
        enrolment = accounts.add(OFFICER, "Benchmark Officer", ("privacy_officer",), PASSWORD, admin)
    return pyotp.parse_uri(enrolment.otpauth_uri).secret


# -- the server ------------------------------------------------------------------------------------

class Server:
    """The app under uvicorn in a daemon thread, on a free loopback port."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the benchmark's server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


# -- a session: a browser of one officer ------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
CASE_LINK = re.compile(r'href="/cases/(\d+)"')


@dataclass
class Session:
    port: int
    cookie: str = ""
    timings: dict[str, list[float]] = field(default_factory=lambda: {"queue": [], "case": []})

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, float]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # the server closed a connection idle past its keep-alive (uvicorn: 5 s), as a browser
            # finds after a pause: connect again and send it again (the time counts both)
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        text = response.read().decode()
        elapsed = time.perf_counter() - started
        for value in response.headers.get_all("Set-Cookie") or []:
            self.cookie = value.split(";", 1)[0]
        return response.status, text, elapsed

    def sign_in(self, secret: str, clock: FixedClock, lock: threading.Lock) -> None:
        _, page, _ = self.request("GET", "/login")
        status, _, _ = self.request("POST", "/login", {"user": OFFICER, "password": PASSWORD,
                                                       "csrf_token": CSRF.search(page).group(1)})
        if status != 303:
            raise RuntimeError(f"sign-in refused the password ({status})")
        _, page, _ = self.request("GET", "/login/code")
        with lock:  # a code is good once: each session signs in a time step later than the one before
            clock.at += timedelta(seconds=30)
            code = pyotp.TOTP(secret).at(clock.at)
            status, _, _ = self.request("POST", "/login/code", {"code": code, "csrf_token": CSRF.search(page).group(1)})
        if status != 303:
            raise RuntimeError(f"sign-in refused the code ({status})")

    def work(self, rounds: int, pages: int, rng: random.Random, think: float) -> None:
        def pause() -> None:
            if think > 0:
                time.sleep(rng.expovariate(1 / think))

        for _ in range(rounds):
            pause()
            status, text, elapsed = self.request("GET", f"/cases?{urlencode({'page': rng.randint(1, pages)})}")
            if status != 200:
                raise RuntimeError(f"the queue answered {status}")
            self.timings["queue"].append(elapsed)
            case = rng.choice(CASE_LINK.findall(text))
            pause()
            status, _, elapsed = self.request("GET", f"/cases/{case}")
            if status != 200:
                raise RuntimeError(f"a case page answered {status}")
            self.timings["case"].append(elapsed)


# -- the measurements -------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def figures(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": 1000 * statistics.median(values), "p95_ms": 1000 * percentile(values, 95)}


def measure_web(vault: Vault, sessions: int, rounds: int, seed: int, thinks: tuple[float, ...]) -> tuple[dict, int]:
    """For each think time: the sessions' timings (all sessions sign in once, first)."""
    secret = officer_secret(vault)
    clock = vault.clock  # a FixedClock (main): each session signs in a time step after the one before
    app = create_app(vault, clock=clock)
    lock = threading.Lock()
    with Server(app) as server:
        officers = [Session(server.port) for _ in range(sessions)]
        for officer in officers:
            officer.sign_in(secret, clock, lock)
        _, first, _ = officers[0].request("GET", "/cases")
        pages = max(1, len(set(re.findall(r"[?&]page=(\d+)", first))) or 1)
        out = {}
        for n, think in enumerate(thinks):
            for o in officers:
                o.timings = {"queue": [], "case": []}
            started = time.perf_counter()
            with ThreadPoolExecutor(sessions) as pool:
                done = [pool.submit(o.work, rounds, min(pages, 5), random.Random(seed + 1000 * n + i), think)
                        for i, o in enumerate(officers)]
                for d in done:
                    d.result()
            wall = time.perf_counter() - started
            queue = [t for o in officers for t in o.timings["queue"]]
            case = [t for o in officers for t in o.timings["case"]]
            out[think] = {"think_s": think, "queue": figures(queue), "case": figures(case),
                          "requests": len(queue) + len(case), "wall_s": wall,
                          "requests_per_s": (len(queue) + len(case)) / wall}
    return out, min(pages, 5)


def measure_direct(vault: Vault, rounds: int, pages: int, seed: int) -> dict:
    """The same pages' work called directly: the queue page and the case page of the routes, with the
    same reads as the signed-in officer (audit events included), one after the other."""
    from auditor.cases.settings import load_case_settings
    from auditor.review.casework import case_page
    from auditor.review.triage import TriageFilters, triage_queue
    from auditor.vault.gateway.context import AccessContext

    settings = load_case_settings()
    reader = AccessContext.of_staff(OFFICER, "privacy_officer", "HCOMPL", workstation="bench")
    rng = random.Random(seed)
    queue, case = [], []
    started = time.perf_counter()
    for _ in range(rounds):
        began = time.perf_counter()
        found = triage_queue(vault, settings, TriageFilters(), rng.randint(1, pages))
        queue.append(time.perf_counter() - began)
        began = time.perf_counter()
        case_page(vault, rng.choice(found.rows).case.id, settings, reader)
        case.append(time.perf_counter() - began)
    wall = time.perf_counter() - started
    return {"queue": figures(queue), "case": figures(case), "requests": 2 * rounds, "wall_s": wall,
            "requests_per_s": 2 * rounds / wall}


def show(fig: dict) -> None:
    direct = fig["direct"]
    print(f"{fig['cases']:,} cases in the month (reviewed here in {fig['review_s']:.1f} s)" if fig["review_s"]
          else f"{fig['cases']:,} cases in the month (reviewed before)")
    print(f"{'load':<24} {'page':<6} {'web p50 ms':>11} {'web p95 ms':>11} {'direct p50':>11} {'direct p95':>11} "
          f"{'p50 ratio':>10} {'p95 ratio':>10}")
    for web in fig["web"]:
        load = f"working (think {web['think_s']:g} s)" if web["think_s"] else "saturated (no pause)"
        for kind in ("queue", "case"):
            w, d = web[kind], direct[kind]
            print(f"{load:<24} {kind:<6} {w['p50_ms']:>11.1f} {w['p95_ms']:>11.1f} {d['p50_ms']:>11.1f} "
                  f"{d['p95_ms']:>11.1f} {w['p50_ms'] / d['p50_ms']:>9.1f}x {w['p95_ms'] / d['p95_ms']:>9.1f}x")
        print(f"{'':<24} {fig['sessions']} sessions, {web['requests']:,} requests in {web['wall_s']:.1f} s = "
              f"{web['requests_per_s']:.1f} requests/s")
    working = fig["web"][0]
    met = max(working["queue"]["p95_ms"], working["case"]["p95_ms"]) <= TARGET_P95_MS
    print(f"direct, one at a time: {direct['requests_per_s']:.1f} requests/s; target p95 <= {TARGET_P95_MS:.0f} ms "
          f"with {fig['sessions']} sessions working: {'met' if met else 'NOT met'}")
    print(json.dumps(fig, default=lambda v: round(v, 3) if isinstance(v, float) else v))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="A vault bench/policy.py kept (--keep DIR: DIR/home).")
    parser.add_argument("--events", type=int, default=10_000_000, help="Without --home: generate and ingest N events.")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="Queue page + case page pairs per session.")
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--think", type=float, default=5.0,
                        help="Mean pause in seconds before each page of the working load (exponential).")
    parser.add_argument("--no-saturation", action="store_true", help="Measure the working load only.")
    args = parser.parse_args(argv)
    if args.think <= 0:
        parser.error("--think must be more than 0 (the saturated load is the one with no pause)")
    tmp = None if args.home else tempfile.TemporaryDirectory(prefix="auditor-bench-web-")
    home = args.home
    if home is None:
        policy_bench.generate_and_ingest(Path(tmp.name), args.events, args.seed)
        home = Path(tmp.name) / "home"
    try:
        vault = Vault.open(home, clock=FixedClock(SystemClock().now()))
    except AuditorError as exc:  # not a vault, or one at an older schema: one line, as the CLI says it
        print(f"bench/web.py: {exc}", file=sys.stderr)
        return 2
    try:
        cases, review_s = reviewed(vault)
        thinks = (args.think,) if args.no_saturation else (args.think, 0.0)
        loads, pages = measure_web(vault, args.sessions, args.rounds, args.seed, thinks)
        web = [loads[t] for t in thinks]
        direct = measure_direct(vault, args.sessions * args.rounds, pages, args.seed)
    finally:
        vault.close()
        if tmp:
            tmp.cleanup()
    show({"cases": cases, "review_s": review_s, "sessions": args.sessions, "web": web, "direct": direct})
    return 0


if __name__ == "__main__":
    sys.exit(main())
