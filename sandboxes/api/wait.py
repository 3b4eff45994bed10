"""`wait`: a bounded long-poll until a sandbox is Ready, has failed, or time runs out.

Level-triggered like the reconciler: each poll re-reads the row and judges the status
as it is now. A status counts only once the reconciler has observed the current
generation, so a stale `Ready=True` from before an update never ends a wait.

Ready:   `Ready=True` and `observedGeneration == generation`.
Rendered: render-only mode wrote the manifests (`Ready=False`, reason `Rendered`):
         done, as far as a cluster-less portal goes.
Waiting: a prod-like sandbox whose current generation awaits a lead's approval is
         still on its way (reason `AwaitingApproval` on timeout), never "failed";
         a rejected one has failed (reason `ApprovalRejected`).
Failed:  a condition of the current generation with `status=False` and a reason in
         `sandboxes.conditions.TERMINAL_REASONS` (the reconciler's reasons that need a
         person to act), or the sandbox is being deleted.
Timeout: neither within the time given (at most MAX_WAIT_SECONDS per request; the CLI
         loops for longer waits).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sandboxes import selectors
from sandboxes.conditions import READY, RENDERED, TERMINAL_REASONS
from sandboxes.models import ApiToken, ApprovalState, Sandbox

MAX_WAIT_SECONDS = 60
DEFAULT_WAIT_SECONDS = 30
POLL_SECONDS = 0.5

WaitResult = Literal["ready", "rendered", "failed", "timeout"]
AWAITING_APPROVAL = "AwaitingApproval"


@dataclass(frozen=True)
class WaitOutcome:
    result: WaitResult
    reason: str
    message: str
    sandbox: Sandbox
    waited: float


def judge(sandbox: Sandbox) -> tuple[WaitResult, str, str] | None:
    """The end state of a wait, or None if the sandbox is still on its way."""
    if sandbox.is_deleting or sandbox.deleted_at:
        return "failed", "Deleted", "The sandbox is being deleted."
    if sandbox.needs_approval:
        approval = selectors.approval_current(sandbox)
        if approval is not None and approval.state == ApprovalState.PENDING:
            return None
        if approval is not None and approval.state == ApprovalState.REJECTED:
            who = approval.decided_by.get_username() if approval.decided_by else "a lead"
            return "failed", "ApprovalRejected", f"Rejected by {who}: {approval.reason}"
    if sandbox.observed_generation < sandbox.generation:
        return None
    for cond in sandbox.conditions or []:
        current = int(cond.get("observedGeneration") or sandbox.observed_generation)
        if current < sandbox.generation:
            continue
        if cond.get("type") == READY and cond.get("status") == "True":
            return "ready", str(cond.get("reason", "")), str(cond.get("message", ""))
        if cond.get("type") == READY and cond.get("reason") == RENDERED:
            return "rendered", RENDERED, str(cond.get("message", ""))
    for cond in sandbox.conditions or []:
        current = int(cond.get("observedGeneration") or sandbox.observed_generation)
        if (
            current >= sandbox.generation
            and cond.get("status") == "False"
            and cond.get("reason") in TERMINAL_REASONS
        ):
            return "failed", str(cond["reason"]), str(cond.get("message", ""))
    return None


def _awaiting_approval(sandbox: Sandbox) -> bool:
    if not sandbox.needs_approval:
        return False
    approval = selectors.approval_current(sandbox)
    return approval is not None and approval.state == ApprovalState.PENDING


def clamp_timeout(value: int | None) -> int:
    wanted = DEFAULT_WAIT_SECONDS if value is None else int(value)
    return max(0, min(wanted, MAX_WAIT_SECONDS))


def wait_for_sandbox(
    *,
    user: Any,
    token: ApiToken | None,
    sandbox_id: int,
    timeout: float,
    poll: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Poll the database until `judge` decides, or `timeout` seconds pass.

    Reads go through the selector each time, so a sandbox that leaves the caller's
    scope mid-wait raises DoesNotExist (404) like any other lookup."""
    start = clock()
    deadline = start + timeout
    while True:
        sandbox = selectors.sandbox_get(user, token=token, pk=sandbox_id)
        verdict = judge(sandbox)
        now = clock()
        if verdict is not None:
            result, reason, message = verdict
            return WaitOutcome(result, reason, message, sandbox, round(now - start, 3))
        if now >= deadline:
            ready = sandbox.condition(READY)
            reason = ready.reason if ready else ""
            message = ready.message if ready else "Not Ready yet."
            if _awaiting_approval(sandbox):
                reason, message = AWAITING_APPROVAL, "Waiting for a lead's approval."
            return WaitOutcome("timeout", reason, message, sandbox, round(now - start, 3))
        # The request's own connection is reused between polls (autocommit, so each
        # poll sees what the reconciler committed); Django closes it when the request
        # finishes, as for any request.
        sleep(min(poll, max(deadline - now, 0)))
