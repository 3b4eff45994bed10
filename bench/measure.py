"""Measuring tools shared by the benchmarks: percentiles, load, CPU seconds per process,
database writes, and what machine and software the numbers came from."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: list[float]) -> dict[str, float]:
    """p50/p95/max/mean in milliseconds of a list of seconds."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
    }


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return f"load average: {loadavg()}"


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, in seconds (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class CpuMeter:
    """CPU seconds spent by the bench itself, its PostgreSQL backend and (when the bench
    started the control plane) each control-plane component, between two snapshots."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def snapshot(self) -> dict[str, float]:
        snap = {"bench (python)": time.process_time()}
        for name, pid in self.pids.items():
            value = proc_cpu_seconds(pid)
            if value is not None:
                snap[name] = value
        return snap

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: round(after[k] - before[k], 2) for k in before if k in after}


class DbWrites:
    """Counts INSERT/UPDATE/DELETE statements; install with connection.execute_wrapper."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        verb = sql.lstrip()[:6].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            self.counts[verb] += 1
        return execute(sql, params, many, context)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@contextmanager
def count_db_writes() -> Iterator[DbWrites]:
    from django.db import connection

    counter = DbWrites()
    with connection.execute_wrapper(counter):
        yield counter


def mutation_kinds(mutated: list[str]) -> dict[str, int]:
    """'apply Deployment ns/name' -> counts per 'apply Deployment'."""
    return dict(Counter(" ".join(m.split()[:2]) for m in mutated))


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "nproc_cmd": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "kernel": platform.release(),
        "hostname": platform.node(),
    }


def software_versions(api_client: Any, run_dir: Path | None) -> dict[str, str]:
    import django
    import kubernetes
    import psycopg
    from django.db import connection
    from kubernetes import client

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    versions = {
        "python": platform.python_version(),
        "django": django.get_version(),
        "kubernetes_client": kubernetes.__version__,
        "psycopg": psycopg.__version__,
        "postgresql": pg_version,
        "kubernetes_server": str(client.VersionApi(api_client).get_code().git_version),
        "etcd": "unknown (external cluster)",
        "kwok": "unknown (external cluster)",
    }
    if run_dir is not None and (run_dir / "state.json").is_file():
        state = json.loads((run_dir / "state.json").read_text())
        versions["etcd"] = state.get("versions", {}).get("etcd", "unknown")
        versions["kwok"] = state.get("versions", {}).get("kwok", "unknown")
    return versions
