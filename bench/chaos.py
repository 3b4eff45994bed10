#!/usr/bin/env python
"""Chaos figures from a real run of the chaos tier (tests/chaos/).

    eval "$(scripts/services)"; export REDIS_URL=redis://127.0.0.1:6379/<your db>
    .venv/bin/python bench/chaos.py

Runs `pytest tests/chaos` (real kube-apiserver frozen with SIGSTOP and killed and
restarted, a private Redis and a private PostgreSQL restarted, a prefork child
SIGKILLed), with each scenario writing what it measured to a JSON-lines file, and
writes `bench/results/chaos-<stamp>.{json,md}`: for each scenario, how long the fault
lasted, how long until every sandbox showed it (ClusterUnreachable /
ReconcileTimeout), and how long after recovery until every sandbox was Ready again.
The chaos worker runs with short limits (soft limit 12 s, budget 8 s, calls 1 s + 2 s,
backoff cap 4 s); production's are in docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "SIDESTAGE_CHAOS_FIGURES": str(figures)}
        load_before = os.getloadavg()
        started = dt.datetime.now(dt.UTC)
        result = subprocess.run(
            [str(REPO / ".venv" / "bin" / "pytest"), "tests/chaos", "-q", "-p", "no:cacheprovider"],
            cwd=REPO,
            env=env,
            check=False,
        )
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        rows = (
            [json.loads(line) for line in figures.read_text().splitlines() if line]
            if figures.exists()
            else []
        )
    report = {
        "when": started.isoformat(timespec="seconds"),
        "pytest_exit": result.returncode,
        "tier_seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "scenarios": rows,
    }
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out = REPO / "bench" / "results"
    (out / f"chaos-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# Chaos tier, {report['when']}",
        "",
        f"pytest exit {result.returncode}, tier {seconds:.0f} s; {report['machine']}; load "
        f"{report['loadavg_before']} before, {report['loadavg_after']} after.",
        "",
        "| Scenario | Fault lasted (s) | Every sandbox showed it after (s) "
        "| Converged after recovery (s) |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        lasted = row.get(
            "outage_seconds", row.get("broker_down_seconds", row.get("restart_seconds"))
        )
        visible = row.get("all_visible_after_seconds", "n/a (no status can be written)")
        converged = next((v for k, v in row.items() if k.startswith("converged_after")), "n/a")
        lasted = "-" if lasted is None else lasted
        lines.append(f"| {row['scenario']} | {lasted} | {visible} | {converged} |")
    lines += ["", "Raw figures per scenario: the JSON file of the same name.", ""]
    (out / f"chaos-{stamp}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
