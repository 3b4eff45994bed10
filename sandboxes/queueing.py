"""Coalescing reconcile requests: at most one reconcile of a sandbox waits in the queue.

A reconcile is level-triggered, so ten changes to a sandbox before its reconcile starts
need one run, not ten. `queue_reconcile` claims a per-sandbox key in the cache (Redis,
`SET NX` with a time to live) and publishes only when it got the claim; the task frees
the key as it starts, *before* it reads the row. So:

- a change committed before the run started found the key taken and published nothing,
  but the run that held the key reads the row after that commit and sees the change;
- a change committed after the run started finds the key free and publishes a run of its
  own, which waits for the sandbox row lock and then sees the change.

No change is ever left unreconciled (proved with threads and a real worker in
tests/sandboxes/test_reconcile_coalescing.py). The key's time to live bounds the harm
of a message lost after the claim (a worker's broker connection dying mid-publish is
handled: the claim is released): later changes publish again after it, and the
periodic resync reconciles everything anyway. Readiness polls and retries are
countdowns of a run already under way: they never take the claim, so a change made
during a rollout is reconciled at once, not after the poll.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from sandboxes.metrics import RECONCILES_QUEUED

log = logging.getLogger(__name__)


def queued_key(sandbox_id: int) -> str:
    # The database name keeps test databases (and checkouts sharing a cache) apart.
    return f"reconcile-queued:{connection.settings_dict['NAME']}:{sandbox_id}"


def queue_reconcile(sandbox_id: int) -> bool:
    """Publish `reconcile_sandbox(sandbox_id)` unless one is already waiting. Returns
    whether a message was published."""
    from sandboxes.tasks import reconcile_sandbox

    if settings.SIDESTAGE_RECONCILE_COALESCE_SECONDS <= 0:
        reconcile_sandbox.delay(sandbox_id)
        RECONCILES_QUEUED.labels("published").inc()
        return True
    key = queued_key(sandbox_id)
    try:
        claimed = cache.add(key, 1, timeout=settings.SIDESTAGE_RECONCILE_COALESCE_SECONDS)
    except Exception as exc:
        log.warning("reconcile of sandbox %s: cache unavailable, publishing: %s", sandbox_id, exc)
        claimed = True
    if not claimed:
        RECONCILES_QUEUED.labels("coalesced").inc()
        return False
    try:
        reconcile_sandbox.delay(sandbox_id)
    except BaseException:
        # Nothing is queued under our claim: the next change must publish.
        _release(key)
        raise
    RECONCILES_QUEUED.labels("published").inc()
    return True


def reconcile_started(sandbox_id: int) -> None:
    """Called by the task before it reads the row: from now on a change needs a new run."""
    if settings.SIDESTAGE_RECONCILE_COALESCE_SECONDS > 0:
        _release(queued_key(sandbox_id))


def _release(key: str) -> None:
    try:
        cache.delete(key)
    except Exception as exc:
        log.warning("could not release %s: %s", key, exc)
