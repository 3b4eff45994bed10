"""Schemathesis against a live server on the real PostgreSQL: every operation of the
published schema, positive and negative inputs, zero 5xx and zero responses that break
the schema. `--checks all`: also no schema-violating request accepted and no
schema-valid request refused (see schemathesis.toml for the statuses each may answer,
and why). Bounded (examples per operation) to stay within about two minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.auth import TokenRateThrottle
from sandboxes import services

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = int(os.environ.get("SIDESTAGE_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = "all"


def test_schemathesis_finds_no_5xx_and_no_schema_violations(
    live_api, world, monkeypatch, tmp_path: Path
):
    # The fuzzer sends thousands of requests; the throttle is tested elsewhere.
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "100000/min"})
    # A fuzzed `wait` answers at once instead of holding the run (tested in test_wait).
    monkeypatch.setattr("sandboxes.api.wait.MAX_WAIT_SECONDS", 0)
    for name in ("pr-1", "pr-2"):
        services.sandbox_create(
            actor=world.alice, tenant=world.alice_tenant, name=name, forks=[world.fork()]
        )
    secret = services.token_issue(actor=world.alice, team=world.shop, name="fuzz").secret
    report = tmp_path / "events.ndjson"
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{live_api.url}/api/schema/",
            "--header",
            f"Authorization: Bearer {secret}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--seed",
            "1",
            "--no-shrink",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = summarise(report)
    print(result.stdout[-4000:])
    print(json.dumps(summary))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert summary["server_errors"] == 0
    assert summary["operations"] >= 15


def summarise(report: Path) -> dict[str, int]:
    """Count operations, requests and 5xx answers from schemathesis's event stream."""
    operations: set[str] = set()
    requests = server_errors = 0
    if not report.exists():
        return {"operations": 0, "requests": 0, "server_errors": 0}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for kind, body in event.items():
            if kind != "ScenarioFinished":
                continue
            label = body.get("label") or body.get("recorder", {}).get("label")
            if label:
                operations.add(label)
            for interactions in (body.get("recorder", {}).get("interactions") or {}).values():
                response = interactions.get("response")
                if response is None:
                    continue
                requests += 1
                server_errors += int(response.get("status_code", 0) >= 500)
    return {"operations": len(operations), "requests": requests, "server_errors": server_errors}
