"""What a baseline's drift means for a sandbox that forks it. Pure: the reconciler
calls `baseline_condition` with the fork rows it already loaded (no extra query)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

BASELINE_CURRENT = "BaselineCurrent"
BASELINE_CHANGED = "BaselineChanged"
BASELINE_NOT_FOUND = "BaselineNotFound"


def baseline_condition(baselines: Iterable[Any]) -> tuple[str, str] | None:
    """(reason, message) for the `BaselineCurrent=False` condition, or None when every
    forked baseline is as the catalog describes it. Not-found outranks changed."""
    not_found, changed = [], []
    for baseline in baselines:
        if baseline.drift == "not-found":
            not_found.append(f"{baseline.name}: {baseline.drift_message}")
        elif baseline.drift == "changed":
            changed.append(f"{baseline.name}: {baseline.drift_message}")
    if not_found:
        return BASELINE_NOT_FOUND, " ".join(not_found + changed)
    if changed:
        return BASELINE_CHANGED, " ".join(changed)
    return None
