"""Acting as the reconciler in tests that are not about it: write a condition and
`observed_generation` the way a reconcile would, optionally later, from a thread."""

from __future__ import annotations

import threading
import time

from django.db import connection
from django.utils import timezone

from sandboxes import conditions as c
from sandboxes.models import Sandbox


def report_ready(
    sandbox_id: int, *, status: str, reason: str, delay: float = 0.0, in_thread: bool = False
) -> None:
    """Set the Ready condition (message `<reason>.`) and observe the current generation.
    `in_thread`: close this thread's own database connection when done."""
    time.sleep(delay)
    try:
        sandbox = Sandbox.objects.get(pk=sandbox_id)
        sandbox.conditions = c.set_condition(
            sandbox.conditions,
            type_=c.READY,
            status=status,
            reason=reason,
            message=f"{reason}.",
            generation=sandbox.generation,
            now=timezone.now(),
        )
        sandbox.observed_generation = sandbox.generation
        sandbox.save(update_fields=["conditions", "observed_generation"])
    finally:
        if in_thread:
            connection.close()


def report_ready_later(
    sandbox_id: int, *, status: str, reason: str, delay: float
) -> threading.Thread:
    """`report_ready` from a thread after `delay` seconds; the caller joins it."""
    thread = threading.Thread(
        target=report_ready,
        args=(sandbox_id,),
        kwargs={"status": status, "reason": reason, "delay": delay, "in_thread": True},
    )
    thread.start()
    return thread
