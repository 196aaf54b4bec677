"""The audit log page: the log's size, the last verification kept and its signed checkpoints; a
verification started by a POST (run while the request waits: a short vault's takes seconds; its
outcome is kept for the home page), and an inclusion proof of an event downloaded as the JSON that
`auditor audit verify-proof` checks. Events name patients by internal id only: nothing here is PHI."""

from __future__ import annotations

import json

from starlette.responses import Response

from auditor.errors import InputError, NotFound
from auditor.review.audit_log import inclusion_proof, log_state, verify_and_keep
from auditor.staff.roles import ADMIN, PRIVACY_OFFICER
from auditor.web.routing import View

ROLES = frozenset({PRIVACY_OFFICER, ADMIN})  # the log's keepers (45 CFR 164.312(b): audit controls)


def _page(view: View, status: int = 200, message: str | None = None, problems: list[str] = ()) -> Response:
    return view.render("audit_log.html", status=status, state=log_state(view.office.vault), message=message,
                       problems=list(problems))


def audit_log(view: View) -> Response:
    return _page(view)


def verify(view: View) -> Response:
    done = verify_and_keep(view.office.vault).result
    if done.ok:
        return _page(view, message=f"The log verifies: {done.size:,} events against {done.checkpoints_checked} "
                                   f"signed checkpoint(s), and every row it records is as recorded.")
    return _page(view, message=f"THE LOG DOES NOT VERIFY: {len(done.problems)} problem(s); first bad event: "
                               f"{done.first_bad_seq}.", problems=[f"{p.kind}: {p.message}" for p in done.problems[:20]])


def proof(view: View) -> Response:
    text = view.form.get("seq", "").strip()
    try:
        if not text.isdigit() or int(text) < 1:
            raise InputError("give an event's sequence number (1 or more)")
        proved = inclusion_proof(view.office.vault, int(text))
    except (InputError, NotFound) as exc:
        return _page(view, 400 if isinstance(exc, InputError) else 404, message=str(exc))
    body = json.dumps(proved.proof, indent=2) + "\n"
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="inclusion-proof-{proved.seq}.json"'})
