"""Start and stop a private control plane from Python.

The one helper the test fixture (``tests/fixtures/kube.py``), the reconciler benchmark
(``bench/reconcile.py``) and the screenshot script (``scripts/screenshots``) use. It
runs ``scripts/k8s-testenv up`` in a run dir of the caller's (a fresh one per user,
so parallel users never share ports or state), with ``--owner-pid`` so that the plane
stops by itself if the caller dies without cleaning up, and ``down --purge`` to stop
it, then checks that no process mentioning the run dir survived.

Import it as ``scripts.k8s.private_plane`` with the repository root on ``sys.path``.
Standard library only, like the rest of ``scripts/k8s``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TESTENV = Path(__file__).resolve().parents[1] / "k8s-testenv"
# `up` on a warm cache takes seconds; the margin covers a slow CI disk under load.
UP_TIMEOUT_SECONDS = 240
DOWN_TIMEOUT_SECONDS = 120
# The --owner-pid watchdog may take a moment to notice that the plane is gone.
STRAY_GRACE_SECONDS = 15


class PlaneError(RuntimeError):
    """The control plane did not come up; the message says why, with the tail of stderr."""


@dataclass(frozen=True)
class PrivatePlane:
    """A running private control plane: its run dir and its kubeconfig (certificates
    embedded), and how long ``up`` took."""

    run_dir: Path
    kubeconfig: str
    startup_seconds: float

    def pids(self) -> dict[str, int]:
        """The pid of each running component (``etcd``, ``kube-apiserver``, ...)."""
        pids: dict[str, int] = {}
        for pid_file in sorted((self.run_dir / "pids").glob("*.pid")):
            try:
                pids[pid_file.stem] = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return pids

    def stop(self) -> list[str]:
        """Stop the plane and delete its run dir; the problems found (empty when clean)."""
        return stop_private_plane(self.run_dir)


def start_private_plane(
    run_dir: Path,
    *,
    build: bool = False,
    owner_pid: int | None = None,
    timeout: float = UP_TIMEOUT_SECONDS,
) -> PrivatePlane:
    """Start a control plane in ``run_dir`` and return it once every component is up.

    ``build=False`` fails (rather than compiling for minutes) when the binaries are not
    cached. The plane stops when ``owner_pid`` (default: this process) exits. Raises
    :class:`PlaneError`; whatever was started by then is stopped first.
    """
    command = [str(TESTENV), "up", f"--run-dir={run_dir}"]
    command.append(f"--owner-pid={owner_pid or os.getpid()}")
    if not build:
        command.append("--no-build")
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        stop_private_plane(run_dir)
        raise PlaneError(f"`scripts/k8s-testenv up` took longer than {timeout:.0f}s") from None
    if result.returncode != 0:
        stop_private_plane(run_dir)
        stderr = result.stderr.strip()[-2000:]
        raise PlaneError(f"`scripts/k8s-testenv up` exited {result.returncode}:\n{stderr}")
    return PrivatePlane(
        run_dir=run_dir,
        kubeconfig=result.stdout.strip().splitlines()[-1],
        startup_seconds=time.monotonic() - started,
    )


def stop_private_plane(run_dir: Path) -> list[str]:
    """``down --purge`` for ``run_dir``, then a look for stray processes that mention it.

    Returns the problems (empty when clean), so that each caller decides how loudly to
    fail: a test session fails, the benchmark records them in its report.
    """
    problems: list[str] = []
    result = subprocess.run(
        [str(TESTENV), "down", f"--run-dir={run_dir}", "--purge"],
        capture_output=True,
        text=True,
        timeout=DOWN_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        stderr = result.stderr.strip()[-500:]
        problems.append(f"`scripts/k8s-testenv down` exited {result.returncode}: {stderr}")
    stray = _stray_processes(run_dir)
    deadline = time.monotonic() + STRAY_GRACE_SECONDS
    while stray and time.monotonic() < deadline:
        time.sleep(0.5)
        stray = _stray_processes(run_dir)
    if stray:
        problems.append(f"stray processes mention {run_dir}:\n{stray}")
    return problems


def _stray_processes(run_dir: Path) -> str:
    listing = subprocess.run(
        ["pgrep", "-af", str(run_dir)], capture_output=True, text=True, check=False
    ).stdout
    # pgrep never lists itself; the caller may mention the run dir in its own arguments.
    own = str(os.getpid())
    return "\n".join(line for line in listing.splitlines() if line.split()[0] != own)


@contextmanager
def private_plane(run_dir: Path, *, build: bool = False) -> Iterator[PrivatePlane]:
    """``with private_plane(dir) as plane:`` starts a plane and always stops it again.

    Problems on the way down raise :class:`PlaneError` after the body has run.
    """
    plane = start_private_plane(run_dir, build=build)
    try:
        yield plane
    finally:
        problems = plane.stop()
        if problems:
            raise PlaneError("; ".join(problems))
