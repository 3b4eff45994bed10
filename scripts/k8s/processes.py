"""The processes of one run dir: spawn a component in its own process group, tell ours
from a reused pid, the owner watchdog, and `stop`, which proves nothing survived."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from layout import COMPONENTS, RunDir, bin_dir, log


def spawn(run: RunDir, component: str, argv: list[str]) -> int:
    log_file = run.log_file(component).open("ab")
    # A new session detaches the component from the caller's terminal (Ctrl-C in the shell
    # that ran `up` must not take the plane down) and makes it a process-group leader, so
    # `down` signals exactly that group and nothing else.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=run.root,
    )
    log_file.close()
    run.pid_file(component).write_text(f"{process.pid}\n")
    # Kept so that a component can be restarted exactly as it was started (same port).
    run.pid_file(component).with_suffix(".argv").write_text(json.dumps(argv))
    return process.pid


def read_log(run: RunDir, component: str) -> str:
    try:
        return run.log_file(component).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (FileNotFoundError, IndexError):
        return False
    return True


def running_pids(run: RunDir) -> dict[str, int]:
    pids = {}
    for component in COMPONENTS:
        try:
            pid = int(run.pid_file(component).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if is_ours(pid):
            pids[component] = pid
    return pids


def our_leftovers(run: RunDir) -> list[int]:
    """Our binaries still running with this run dir in their command line.

    Every component is started with paths under the run dir, so the pair (executable in
    our cache, run dir in argv) singles out exactly this plane's processes, even when a
    pid file was lost (for example when `up` was killed mid-spawn).
    """
    result = subprocess.run(
        ["pgrep", "-f", re.escape(f"{run.root}/")], capture_output=True, text=True, check=False
    )
    return [pid for pid in (int(word) for word in result.stdout.split()) if is_ours(pid)]


def is_ours(pid: int) -> bool:
    """Is ``pid`` a live process running one of our cached binaries?"""
    try:
        executable = Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False
    return executable.parent == bin_dir() and pid_alive(pid)


def spawn_watchdog(run: RunDir, owner_pid: int, up_pid: int) -> None:
    stop_watchdog(run)
    argv = [
        sys.executable,
        str(Path(__file__).with_name("testenv.py")),
        "watchdog",
        f"--run-dir={run.root}",
        f"--owner-pid={owner_pid}",
        f"--up-pid={up_pid}",
    ]
    with run.log_file("watchdog").open("ab") as log_file:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run.pid_file("watchdog").write_text(f"{process.pid}\n")


def watch_owner(run: RunDir, owner_pid: int, up_pid: int, interval: float = 1.0) -> None:
    """Stop the plane once ``owner_pid`` has gone. A normal `down` kills this watcher."""
    while pid_alive(owner_pid):
        time.sleep(interval)
    # If the owner died while `up` was still starting components, stopping now would
    # race it; `up` finishes (or fails) within its own timeouts, so wait for it first.
    deadline = time.monotonic() + 600
    while pid_alive(up_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    log(f"owner pid {owner_pid} is gone; stopping the control plane in {run.root}")
    stop(run)


def stop_watchdog(run: RunDir) -> None:
    try:
        pid = int(run.pid_file("watchdog").read_text())
    except (FileNotFoundError, ValueError):
        return
    # The watchdog runs Python, not one of our binaries, so it is recognised by its
    # command line instead; and the watchdog itself calls stop(), hence the getpid check.
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    if pid != os.getpid() and b"watchdog" in argv and f"--run-dir={run.root}".encode() in argv:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    run.pid_file("watchdog").unlink(missing_ok=True)


def stop(run: RunDir, grace: float = 10.0) -> list[int]:
    """Stop every component's process group; return the pids that would not die."""
    stop_watchdog(run)
    groups: dict[str, int] = {}
    # Reverse start order, so that clients go before the apiserver and etcd goes last.
    for component in reversed(COMPONENTS):
        try:
            pid = int(run.pid_file(component).read_text())
        except (FileNotFoundError, ValueError):
            continue
        # A pid file can outlive its process (a reboot, a crash); never signal a pid that
        # has since been reused by something else.
        if is_ours(pid):
            groups[component] = pid
            signal_group(pid, signal.SIGTERM)
        else:
            run.pid_file(component).unlink(missing_ok=True)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in groups.values()):
        time.sleep(0.1)
    for component, pid in groups.items():
        if pid_alive(pid):
            signal_group(pid, signal.SIGKILL)
        run.pid_file(component).unlink(missing_ok=True)
    for pid in our_leftovers(run):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    run.state_file.unlink(missing_ok=True)
    return our_leftovers(run)


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
