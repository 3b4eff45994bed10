"""Dashboard latency with 10,000 sandboxes in PostgreSQL: search, filters, sort, paging.

    eval "$(scripts/services)" && .venv/bin/python bench/dashboard.py [--sandboxes 10000]
        [--repeat 30]

Seeds a separate database the way bench/api.py does (`<db>_dashboard_bench`, dropped
and re-created, bulk_create), logs the bench user in with Django's test client (in this
process: the whole view, template and middleware stack, without a network hop), and
times each dashboard query. Writes p50/p95 and the query count per scenario to
bench/results/dashboard-<timestamp>.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import bench_database_url, recreate_database, seed  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandboxes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    url = bench_database_url().replace("_api_bench", "_dashboard_bench")
    recreate_database(url)
    seed(url, args.sandboxes)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    last_page = args.sandboxes // 50
    scenarios = {
        "first page": "/",
        f"page {last_page}": f"/?page={last_page}",
        "search by name": "/?q=pr-42",
        "state=ready": "/?state=ready",
        "service=payments": "/?service=payments",
        "label pr=4242": "/?label=pr%3D4242",
        "owner=bench, sort by name": "/?owner=bench&sort=name",
        "sort by expiry, page 50": "/?sort=expires&page=50",
    }
    results = {}
    for name, path in scenarios.items():
        client.get(path)  # warm
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        cuts = statistics.quantiles(times, n=20)
        results[name] = {
            "path": path,
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(cuts[18] * 1000, 1),
            "queries": len(queries.captured_queries),
        }
        print(
            f"{name:32} p50 {results[name]['p50_ms']:7.1f} ms  p95 "
            f"{results[name]['p95_ms']:7.1f} ms  {results[name]['queries']} queries"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sandboxes": args.sandboxes,
        "repeat": args.repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "note": "in-process Django test client; the machine is shared with other jobs",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"dashboard-{stamp}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    lines = [
        f"# Dashboard with {args.sandboxes} sandboxes ({meta['when']})",
        "",
        f"{meta['note']}; {args.repeat} requests per scenario.",
        "",
        "| scenario | p50 ms | p95 ms | queries |",
        "|---|---:|---:|---:|",
        *(
            f"| {n} (`{r['path']}`) | {r['p50_ms']} | {r['p95_ms']} | {r['queries']} |"
            for n, r in results.items()
        ),
        "",
    ]
    (RESULTS / f"dashboard-{stamp}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
