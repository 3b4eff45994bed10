"""The telemetry reader's parsing and its errors: label mapping for both meshes, and
every odd answer a backend on loopback can give becomes TelemetryUnavailable (a 503
with a message), never an exception that would be a 500."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from routing.propagation import Flow, Workload
from sandboxes.telemetry import (
    PrometheusReader,
    TelemetryConfig,
    TelemetryUnavailable,
    istio_flows,
    istio_query,
    linkerd_flows,
    linkerd_query,
)


def test_istio_labels_map_to_flows_and_5xx_are_errors():
    samples = [
        {
            "metric": {
                "source_workload": "web-sbx-k",
                "source_workload_namespace": "shop",
                "destination_workload": "cart",
                "destination_workload_namespace": "shop",
                "response_code": "503",
            },
            "value": [1700000000, "4"],
        },
        {"metric": {"destination_workload": "cart"}, "value": [1, "0"]},  # dropped: no requests
    ]
    assert istio_flows(samples) == [
        Flow(Workload("shop", "web-sbx-k"), Workload("shop", "cart"), 4.0, 4.0)
    ]


def test_linkerd_labels_map_to_flows_and_failures_are_errors():
    samples = [
        {
            "metric": {
                "namespace": "shop",
                "deployment": "web",
                "dst_namespace": "shop",
                "dst_deployment": "cart",
                "classification": "success",
            },
            "value": [1, "2.5"],
        }
    ]
    assert linkerd_flows(samples) == [Flow(Workload("shop", "web"), Workload("shop", "cart"), 2.5)]


def test_queries_filter_by_namespace_and_refuse_odd_names():
    assert 'destination_workload_namespace=~"a|shop"' in istio_query("5m", ["shop", "a"])
    assert "[5m]" in linkerd_query("5m", ["shop"])
    with pytest.raises(ValueError):
        istio_query("5m", ['shop"}) or vector(1'])


class _Handler(BaseHTTPRequestHandler):
    reply: tuple[int, str] = (200, "{}")
    seen_auth: list[str] = []

    def do_GET(self) -> None:
        type(self).seen_auth.append(self.headers.get("Authorization", ""))
        status, body = type(self).reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[type[_Handler]]:
    handler = type("Handler", (_Handler,), {"seen_auth": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, "{}", "refused the request (HTTP 401); check SIDESTAGE_PROMETHEUS_TOKEN"),
        (502, "<html>bad gateway</html>", "answered HTTP 502 without a Prometheus API response"),
        (200, "[]", "without a Prometheus API response"),
        (400, '{"status": "error", "error": "bad"}', "rejected the query: bad"),
        (200, '{"status": "success", "data": []}', "unexpected answer shape"),
        (200, '{"status": "success", "data": {"resultType": "matrix", "result": []}}', "shape"),
        (
            200,
            '{"status": "success", "data": {"resultType": "vector", "result": [1]}}',
            "without labels",
        ),
        (
            200,
            '{"status": "success", "data": {"resultType": "vector", '
            '"result": [{"metric": {}, "value": "x"}]}}',
            "without a value",
        ),
    ],
)
def test_odd_answers_are_telemetry_unavailable(backend, status, body, message):
    backend.reply = (status, body)
    with (
        PrometheusReader(TelemetryConfig(backend.url)) as reader,
        pytest.raises(TelemetryUnavailable) as caught,
    ):
        istio_flows(reader.query("up"))
    assert message in caught.value.message


def test_the_bearer_token_is_sent(backend):
    backend.reply = (
        200,
        json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}),
    )
    with PrometheusReader(TelemetryConfig(backend.url, token="s3cret")) as reader:
        assert reader.query("up") == []
    assert backend.seen_auth == ["Bearer s3cret"]
