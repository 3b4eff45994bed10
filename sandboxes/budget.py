"""The reconcile's time budget: one deadline per run, read by every cluster call.

The numbers are chosen together (docs/architecture.md, "The time budget"): each API
call has a connect and a read timeout, the cluster layer retries a failed call a few
times (urllib3's own retries are switched off, so there is one layer of retries), and
none of it may run past the reconcile's budget, which ends well before the Celery
task's soft time limit. A run that runs out of budget stops at the next call, records
`ClusterUnreachable` with what it was doing, commits, and is requeued with backoff.

The deadline travels in a context variable rather than through every signature: the
cluster layer and the data provisioning read it where they block, and code that runs
outside a reconcile (tests, the sweep, the shell) has no deadline and keeps the plain
per-call timeouts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

_current: ContextVar[Deadline | None] = ContextVar("sidestage_reconcile_deadline", default=None)


@dataclass
class Deadline:
    """How long one reconcile may spend, and what it is doing now (for the message a
    person reads when it runs out)."""

    budget: float
    started: float = field(default_factory=time.monotonic)
    doing: str = "starting"

    def remaining(self) -> float:
        return self.budget - (time.monotonic() - self.started)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def expired(self) -> bool:
        return self.remaining() <= 0


def current_deadline() -> Deadline | None:
    return _current.get()


@contextmanager
def deadline_scope(deadline: Deadline | None) -> Iterator[Deadline | None]:
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def doing(what: str) -> None:
    """Note what the current run is doing (a no-op outside a reconcile)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.doing = what
