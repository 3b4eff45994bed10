"""`GET /api/v1/sandboxes/<name>/traffic` without a working telemetry backend: not
configured, down, slow, bad input, other teams. (With a real Prometheus:
tests/telemetry/.)"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_backend() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers: a slow Prometheus."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_telemetry_configured_says_so_and_gives_the_curls(
    world, client_for, make_sandbox, settings
):
    settings.SIDESTAGE_PROMETHEUS_URL = ""
    sandbox = make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/traffic")
    assert response.status_code == 200
    body = response.json()
    assert body["telemetry"]["state"] == "not_configured"
    assert "No telemetry is configured" in body["telemetry"]["message"]
    assert f"baggage: sidestage={sandbox.routing_key}" in body["howToTest"]
    assert body["howToTest"].startswith("curl")
    manual = body["telemetry"]["manualQuery"]
    assert manual.startswith("curl -sG") and "istio_requests_total" in manual
    assert body["forks"] == [] and body["hops"] == [] and body["keyDropped"] is False


def test_a_backend_that_is_down_is_a_503_with_a_message(world, client_for, make_sandbox, settings):
    settings.SIDESTAGE_PROMETHEUS_URL = f"http://127.0.0.1:{closed_port()}"
    make_sandbox("pr-1", forks=[world.fork("payments")])
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/traffic")
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "telemetry_unavailable"
    assert "cannot be reached" in error["message"]


def test_a_slow_backend_times_out_with_a_message(
    world, client_for, make_sandbox, settings, silent_backend
):
    settings.SIDESTAGE_PROMETHEUS_URL = silent_backend
    settings.SIDESTAGE_PROMETHEUS_TIMEOUT = 1
    make_sandbox("pr-1", forks=[world.fork("payments")])
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/traffic")
    assert response.status_code == 503
    assert error_of(response)["message"].endswith("did not answer within 1 seconds.")


def test_the_token_is_never_shown(world, client_for, make_sandbox, settings):
    port = closed_port()
    settings.SIDESTAGE_PROMETHEUS_URL = f"http://user:hunter2@127.0.0.1:{port}"
    make_sandbox("pr-1", forks=[world.fork("payments")])
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/traffic")
    assert response.status_code == 503
    assert "hunter2" not in response.content.decode()
    assert f"http://127.0.0.1:{port}" in error_of(response)["message"]


@pytest.mark.parametrize("window", ["2m", "15", "1h ", "\uff11m", "1m,5m"])
def test_a_window_outside_the_list_is_a_400(world, client_for, make_sandbox, window):
    make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/traffic", {"window": window})
    assert response.status_code == 400
    assert "window" in error_of(response)["fields"]


def test_other_teams_sandboxes_are_not_found(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    response = client_for(world.charlie).get("/api/v1/sandboxes/pr-1/traffic")
    assert response.status_code == 404


def test_the_panel_says_the_backend_is_down_without_failing_the_page(
    world, client, make_sandbox, settings
):
    settings.SIDESTAGE_PROMETHEUS_URL = f"http://127.0.0.1:{closed_port()}"
    sandbox = make_sandbox("pr-1", forks=[world.fork("payments")])
    client.force_login(world.alice)
    page = client.get(f"/sandboxes/{sandbox.pk}/")
    assert 'id="routing"' in page.content.decode()
    response = client.get(
        f"/sandboxes/{sandbox.pk}/traffic/",
        {"window": "5m"},
        headers={"HX-Request": "true", "HX-Target": "routing"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="routing"')
    assert 'data-telemetry="unavailable"' in html and "cannot be reached" in html
    assert '<option value="5m" selected>' in html


def test_the_panel_refuses_an_unknown_window_beside_the_select(world, client, make_sandbox):
    sandbox = make_sandbox("pr-1")
    client.force_login(world.alice)
    response = client.get(
        f"/sandboxes/{sandbox.pk}/traffic/",
        {"window": "7m"},
        headers={"HX-Request": "true", "HX-Target": "routing"},
    )
    assert response.status_code == 422
    assert "Pick a window from the list" in response.content.decode()


def test_the_panel_of_another_team_is_404(world, client, make_sandbox):
    sandbox = make_sandbox("pr-1")
    client.force_login(world.charlie)
    assert client.get(f"/sandboxes/{sandbox.pk}/traffic/").status_code == 404


def test_without_javascript_the_panel_is_a_page(world, client, make_sandbox, settings):
    settings.SIDESTAGE_PROMETHEUS_URL = ""
    sandbox = make_sandbox("pr-1")
    client.force_login(world.alice)
    html = client.get(f"/sandboxes/{sandbox.pk}/traffic/").content.decode()
    assert "<html" in html and "No telemetry is configured." in html
