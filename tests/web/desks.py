"""What the desks' page tests share: a signed-in browser per role on one app, the form token of a
page, waiting for background work, the audit events written since a point, and a download's checks."""

from __future__ import annotations

import time

from sqlalchemy import select

from auditor.audit.log import EVENTS
from tests.web.conftest import csrf_of, sign_in


def browser(new_client, staff, clock, role: str):
    return sign_in(new_client(), staff[role], clock)


def post(client, page: str, path: str, **fields):
    """POST `fields` to `path` with the form token of `page` (as a browser would, from that page)."""
    return client.post(path, data={**fields, "csrf_token": csrf_of(client.get(page).text)})


def wait_for(client, path: str, seconds: float = 240) -> str:
    """The page of background work once it says the work is over."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = client.get(path)
        assert page.status_code == 200, page.text
        if "hx-trigger" not in page.text:
            return page.text
        time.sleep(0.2)
    raise AssertionError(f"{path}: still running after {seconds} s")


def log_size(vault) -> int:
    with vault.records.connect() as conn:
        return conn.scalar(select(EVENTS.c.seq).order_by(EVENTS.c.seq.desc()).limit(1)) or 0


def events_since(vault, seq: int) -> list:
    with vault.records.connect() as conn:
        return conn.execute(select(EVENTS.c.seq, EVENTS.c.user_id, EVENTS.c.role, EVENTS.c.action, EVENTS.c.purpose,
                                   EVENTS.c.outcome, EVENTS.c.patient_id, EVENTS.c.record_type, EVENTS.c.record_id,
                                   EVENTS.c.detail, EVENTS.c.workstation)
                            .where(EVENTS.c.seq > seq).order_by(EVENTS.c.seq)).all()


def assert_download(response, name: str, media: str) -> bytes:
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith(media)
    return response.content
