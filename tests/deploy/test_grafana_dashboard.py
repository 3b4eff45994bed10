"""The shipped Grafana dashboard queries only metrics Sidestage exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.metrics import exposition

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "sidestage.json"


@pytest.mark.django_db
def test_every_query_names_an_exported_metric() -> None:
    exported = (
        {
            sample.name
            for family in text_string_to_metric_families(exposition(include_database=True).decode())
            for sample in family.samples
        }
        | {
            # Families with labels appear only once observed; name them from the definitions.
            f"{base}{suffix}"
            for base in (
                "sidestage_reconcile_duration_seconds",
                "sidestage_write_to_routes_programmed_seconds",
                "sidestage_task_queue_lag_seconds",
            )
            for suffix in ("_bucket", "_count", "_sum")
        }
        | {"sidestage_reconcile_failures_total", "sidestage_cluster_api_requests_total"}
    )
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bsidestage_[a-z_]+", target["expr"])
    }
    assert queried, "the dashboard queries nothing"
    assert queried <= exported, queried - exported
