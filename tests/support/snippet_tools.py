"""The real tools the snippet tests run: found in the cache `scripts/snippet-tools`
fills (~/.cache/sidestage/), built there on first use.

Like the cluster and browser tiers, a tool that cannot be had skips its tests on a
laptop but fails them loudly when SIDESTAGE_REQUIRE_SNIPPET_TOOLS=1 (`make test` and CI
set it), so a run never passes while silently proving nothing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "snippet-tools"


def _unavailable(tool: str, reason: str) -> None:
    if os.environ.get("SIDESTAGE_REQUIRE_SNIPPET_TOOLS") == "1":
        pytest.fail(f"snippet tool {tool} is required but unavailable: {reason}")
    pytest.skip(f"{tool} is unavailable: {reason}")


@functools.cache
def _build(tool: str) -> tuple[Path | None, str]:
    path = Path(
        subprocess.run(
            [str(SCRIPT), "path", tool], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    if path.exists():
        return path, ""
    # A clean machine: build it once (a no-op when another session already did).
    done = subprocess.run(
        [str(SCRIPT), "build", tool], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0 or not path.exists():
        return None, f"scripts/snippet-tools build {tool} failed:\n{done.stderr[-2000:]}"
    return path, ""


def cached_tool(tool: str) -> Path:
    """newman, grpcurl (executables) or finagle (a directory: lib/*.jar, DtabBind.class)."""
    path, reason = _build(tool)
    if path is None:
        _unavailable(tool, reason)
    assert path is not None
    return path


def system_tool(name: str) -> str:
    """A tool the machine provides (curl, node, java)."""
    found = shutil.which(name)
    if found is None:
        _unavailable(name, f"{name} is not on PATH")
    assert found is not None
    return found
