"""`sidestage traffic` without a working telemetry backend: exit 2 and the curls when
none is configured, exit 4 when it is down. (With a real Prometheus: tests/telemetry/.)"""

from __future__ import annotations

import json
import socket

import pytest

from tests.cli.test_cli_live import cli  # noqa: F401 - the CLI runner fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_telemetry_configured_is_exit_2_with_the_curls(cli, world, settings):  # noqa: F811
    settings.SIDESTAGE_PROMETHEUS_URL = ""
    assert cli("sandbox", "apply", "-f", "sandbox.yaml").returncode == 0
    result = cli("traffic", "pr-42")
    assert result.returncode == 2, result.stderr
    assert "No telemetry is configured" in result.stderr
    assert "baggage: sidestage=" in result.stderr  # the curl that sends the key
    assert "istio_requests_total" in result.stderr  # the query to run by hand
    as_json = cli("traffic", "pr-42", "-o", "json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["telemetry"]["state"] == "not_configured"


def test_a_backend_that_is_down_is_exit_4(cli, world, settings):  # noqa: F811
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.SIDESTAGE_PROMETHEUS_URL = f"http://127.0.0.1:{port}"
    assert cli("sandbox", "apply", "-f", "sandbox.yaml").returncode == 0
    result = cli("traffic", "pr-42", "--window", "5m")
    assert result.returncode == 4, result.stderr
    assert "telemetry backend" in result.stderr and "cannot be reached" in result.stderr


def test_an_unknown_window_is_a_usage_error(cli, world):  # noqa: F811
    result = cli("traffic", "pr-42", "--window", "7m")
    assert result.returncode == 2
