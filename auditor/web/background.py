"""Long work the app does for a page (the monthly report, the audit log's verification) in a worker
the app owns: one thread per app, hence one piece of such work at a time on its vault. A POST starts
it; its page shows the stages it has been told (the use case's progress callback) and refreshes
itself until the work is over. Work is kept in memory: a restarted app has none running."""

from __future__ import annotations

import itertools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from auditor.clock import Clock
from auditor.errors import AuditorError, InputError, NotFound

log = logging.getLogger("auditor.web")
KEPT = 50  # finished work remembered (its page, its result) before the oldest is forgotten
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    name: str
    began: datetime


@dataclass(frozen=True)
class Work:
    """A snapshot of one piece of background work (its title and stages never hold PHI)."""

    id: int
    kind: str  # "report", "verification"
    title: str
    started_by: str  # the account's user name
    started_at: datetime
    stages: tuple[Stage, ...] = ()
    state: str = "waiting"  # waiting, running, done, failed
    error: str | None = None
    result: Any = None
    finished_at: datetime | None = None

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed")


class BackgroundWork:
    """The app's worker. `start` refuses while other work is waiting or running (one at a time per
    vault: a report and a verification both read the whole log)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditor-background")
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._work: dict[int, Work] = {}

    def start(self, kind: str, title: str, started_by: str, work: Callable[[Progress], Any]) -> Work:
        """Queue `work(progress)`; its snapshot. InputError while other work is not over."""
        with self._lock:
            busy = next((w for w in self._work.values() if not w.over), None)
            if busy is not None:
                raise InputError(f"one piece of background work at a time: the {busy.title}, started by "
                                 f"{busy.started_by}, is not over yet")
            started = Work(next(self._ids), kind, title, started_by, self.clock.now())
            self._work[started.id] = started
            finished = sorted(i for i, w in self._work.items() if w.over)
            for old in finished[: max(0, len(finished) - KEPT)]:
                del self._work[old]
        self._pool.submit(self._run, started.id, work)
        return started

    def get(self, work_id: int, kind: str) -> Work:
        with self._lock:
            found = self._work.get(work_id)
        if found is None or found.kind != kind:
            raise NotFound(f"no {kind} {work_id} in progress or recently done")
        return found

    def latest(self, kind: str) -> Work | None:
        with self._lock:
            mine = [w for w in self._work.values() if w.kind == kind]
        return max(mine, key=lambda w: w.id) if mine else None

    def close(self) -> None:
        """Let the running work finish (a report half-written is worth less than a wait); drop the rest."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- in the worker --------------------------------------------------------------------------------
    def _update(self, work_id: int, **changes) -> None:
        with self._lock:
            self._work[work_id] = replace(self._work[work_id], **changes)

    def _tell(self, work_id: int, stage: str) -> None:
        with self._lock:
            current = self._work[work_id]
            self._work[work_id] = replace(current, stages=(*current.stages, Stage(stage, self.clock.now())))

    def _run(self, work_id: int, work: Callable[[Progress], Any]) -> None:
        self._update(work_id, state="running")
        try:
            result = work(lambda stage: self._tell(work_id, stage))
        except AuditorError as exc:  # messages name no PHI (auditor.errors)
            self._update(work_id, state="failed", error=str(exc), finished_at=self.clock.now())
        except Exception as exc:  # a bug: its type only; values may be PHI
            log.error("background work %d failed: %s", work_id, type(exc).__name__)
            self._update(work_id, state="failed", error="Something went wrong; the error is in the server's log.",
                         finished_at=self.clock.now())
        else:
            self._update(work_id, state="done", result=result, finished_at=self.clock.now())
