"""Each snippet format, run by its real tool against a local server that records what
arrived: curl, HTTPie, requests, Node's fetch, the OpenTelemetry SDK, Newman (Postman's
runner), grpcurl (built from its Go module) against a gRPC server with reflection. The
mirrord config is checked against mirrord's published JSON schema, its header filter
with mirrord's matching rules; ModHeader's import by its shape (the extension cannot
run here). The Linkerd 1 dtab is bound by Finagle in tests/routing/test_dtab_finagle.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import re2

from routing.baggage import parse_baggage
from routing.snippets import (
    BAGGAGE_NOTES,
    curl_snippet,
    grpcurl_snippet,
    httpie_snippet,
    javascript_fetch_snippet,
    mirrord_config,
    mirrord_header_filter,
    modheader_profiles,
    opentelemetry_python_snippet,
    postman_collection,
    python_requests_snippet,
    render_snippets,
)
from tests.support.snippet_tools import cached_tool, system_tool

KEY = "abc0000000000000000x"
DTAB = f"/host/world => /srv/world-sbx-{KEY};"
L5D = (("l5d-dtab", DTAB),)
SCHEMA = Path(__file__).resolve().parents[1] / "support" / "mirrord" / "mirrord-schema.json"


class Recorder(BaseHTTPRequestHandler):
    received: list[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        Recorder.received.append(list(self.headers.items()))
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/orders"
    finally:
        httpd.shutdown()
        httpd.server_close()


def received(name: str) -> list[str]:
    (headers,) = Recorder.received
    return [v for k, v in headers if k.lower() == name]


def baggage_of_last_request() -> dict[str, str]:
    return {m.key: m.value for m in parse_baggage(received("baggage"), strict=True)}


def run(argv: list[str] | str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **kw,
    )  # type: ignore[call-overload]


# --- curl ------------------------------------------------------------------------------


def test_curl_snippet_reaches_the_server_with_key_and_keeps_existing_baggage(server):
    system_tool("curl")
    snippet = curl_snippet(KEY, server)
    assert snippet.startswith("curl ")
    # The user's own baggage header, added the way they would add it.
    run(f"{snippet} -H 'baggage: userId=alice;p=1'", shell=True)  # noqa: S604 - the snippet is a shell command
    assert received("x-sidestage-route") == [KEY]
    assert received("baggage") == [f"sidestage={KEY}", "userId=alice;p=1"]
    assert baggage_of_last_request() == {"sidestage": KEY, "userId": "alice"}


def test_curl_snippet_quotes_urls_and_carries_the_linkerd1_dtab(server):
    system_tool("curl")
    run(curl_snippet(KEY, server + "?a=1&b='x'", extra_headers=L5D), shell=True)  # noqa: S604
    assert received("x-sidestage-route") == [KEY]
    assert received("l5d-dtab") == [DTAB]


# --- HTTPie ----------------------------------------------------------------------------


def _http() -> str:
    path = Path(sys.executable).parent / "http"
    return str(path) if path.exists() else system_tool("http")


def test_httpie_snippet_sends_a_second_baggage_header(server):
    argv = shlex.split(httpie_snippet(KEY, server, extra_headers=L5D))
    assert argv[0] == "http"
    # As the user would: their own baggage item after ours.
    run([_http(), "--ignore-stdin", *argv[1:], "baggage:userId=alice"])
    assert received("x-sidestage-route") == [KEY]
    assert received("l5d-dtab") == [DTAB]
    # HTTPie sends two baggage headers (what the note beside the snippet says).
    assert received("baggage") == [f"sidestage={KEY}", "userId=alice"]
    assert baggage_of_last_request() == {"sidestage": KEY, "userId": "alice"}


# --- Python requests -------------------------------------------------------------------


def test_python_requests_snippet(server):
    snippet = python_requests_snippet(KEY, server, extra_headers=L5D)
    program = snippet + (
        "\nresponse = requests.get("
        + repr(server)
        + ", headers=with_sidestage({'Baggage': 'userId=alice, sidestage=old0000000000000000'}),"
        " timeout=10)\n"
    )
    out = run([sys.executable, "-c", program])
    assert out.stdout.split() == ["200"]
    assert len(Recorder.received) == 2
    Recorder.received = Recorder.received[1:]
    assert received("x-sidestage-route") == [KEY]
    assert received("l5d-dtab") == [DTAB]
    assert baggage_of_last_request() == {"userId": "alice", "sidestage": KEY}


# --- JavaScript fetch ------------------------------------------------------------------


def test_javascript_fetch_snippet(server, tmp_path):
    node = system_tool("node")
    snippet = javascript_fetch_snippet(KEY, server, extra_headers=L5D)
    extra = (
        f"\nawait fetch({json.dumps(server)}, "
        "{ headers: withSidestage({ baggage: 'userId=alice' }) });\n"
    )
    script = tmp_path / "snippet.mjs"
    script.write_text(snippet + extra)
    out = run([node, str(script)])
    assert out.stdout.strip() == "200"
    Recorder.received = Recorder.received[1:]
    assert received("x-sidestage-route") == [KEY]
    assert received("l5d-dtab") == [DTAB]
    assert baggage_of_last_request() == {"userId": "alice", "sidestage": KEY}


# --- OpenTelemetry (Python) ------------------------------------------------------------

# The caller's own baggage, arriving in the context the way an instrumented app has it.
CALLER_CONTEXT = """
from opentelemetry import context as _ctx
from opentelemetry.propagate import extract as _extract
_ctx.attach(_extract({"baggage": "userId=alice;p=1,tier=gold"}))
"""


def _otel(server: str, env: dict[str, str] | None = None) -> None:
    snippet = opentelemetry_python_snippet(KEY, server, extra_headers=L5D)
    out = run([sys.executable, "-c", CALLER_CONTEXT + snippet], env={**os.environ, **(env or {})})
    assert out.stdout.split() == ["200"]


def test_opentelemetry_snippet_keeps_the_callers_baggage_but_reencodes_properties(server):
    _otel(server)
    assert received("x-sidestage-route") == [KEY]
    assert received("l5d-dtab") == [DTAB]
    (header,) = received("baggage")
    members = {m.key: m.value for m in parse_baggage([header], strict=True)}
    assert members["sidestage"] == KEY
    assert members["tier"] == "gold"
    # The W3C propagator keeps the property, but inside the value, percent-encoded:
    # what the note beside the snippet warns about.
    assert "userId=alice%3Bp%3D1" in header.replace(" ", "")


def test_opentelemetry_snippet_with_only_tracecontext_sends_no_baggage(server):
    _otel(server, {"OTEL_PROPAGATORS": "tracecontext"})
    assert received("baggage") == []
    # Only the dedicated header routes then.
    assert received("x-sidestage-route") == [KEY]


# --- Postman, run by Newman ------------------------------------------------------------


def test_postman_collection_runs_in_newman_and_appends_to_the_requests_baggage(server, tmp_path):
    newman = cached_tool("newman")
    collection = postman_collection(KEY, server, extra_headers=L5D)
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    (item,) = collection["item"]
    assert item["request"]["url"] == server
    # The request's own baggage, as a user would have it in Postman.
    item["request"]["header"].append({"key": "baggage", "value": "userId=alice"})
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(collection))
    out = run(
        [
            str(newman),
            "run",
            str(path),
            "--reporters",
            "cli",
            "--bail",
            "--disable-unicode",
            "--color",
            "off",
        ]
    )
    assert "request url is empty" not in out.stdout
    assert received("x-sidestage-route") == [KEY]
    assert received("l5d-dtab") == [DTAB]
    assert received("baggage") == [f"userId=alice,sidestage={KEY}"]


def test_the_old_postman_url_object_sends_nothing_in_newman(server, tmp_path):
    """The defect this guards against: with {"raw": url} Newman sends no request."""
    newman = cached_tool("newman")
    collection = postman_collection(KEY, server)
    collection["item"][0]["request"]["url"] = {"raw": server}
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(collection))
    subprocess.run(
        [str(newman), "run", str(path), "--color", "off"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert Recorder.received == []


# --- grpcurl against a gRPC server with reflection ---------------------------------------


class _Metadata:
    calls: list[list[tuple[str, str]]] = []


@pytest.fixture
def grpc_server() -> Iterator[str]:
    grpc = pytest.importorskip("grpc")
    reflection = pytest.importorskip("grpc_reflection.v1alpha.reflection")

    class Record(grpc.ServerInterceptor):
        def intercept_service(self, continuation, handler_call_details):
            _Metadata.calls.append(list(handler_call_details.invocation_metadata))
            return continuation(handler_call_details)

    _Metadata.calls = []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[Record()])
    reflection.enable_server_reflection([reflection.SERVICE_NAME], server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def test_grpcurl_snippet_lists_services_with_the_key_in_metadata(grpc_server):
    grpcurl = cached_tool("grpcurl")
    snippet = grpcurl_snippet(KEY, grpc_server, extra_headers=L5D, authority="world")
    argv = shlex.split(snippet)
    assert argv[0] == "grpcurl"
    assert argv[-2:] == [grpc_server, "list"]
    # The user's own baggage, added the way they would add it.
    out = run([str(grpcurl), *argv[1:-2], "-H", "baggage: userId=alice", *argv[-2:]])
    assert "grpc.reflection.v1alpha.ServerReflection" in out.stdout
    assert _Metadata.calls, "grpcurl made no call"
    for metadata in _Metadata.calls:
        values = [(k, v) for k, v in metadata if k in {"x-sidestage-route", "baggage", "l5d-dtab"}]
        # grpcurl sends the user's baggage as a second baggage entry.
        assert sorted(values) == sorted(
            [
                ("x-sidestage-route", KEY),
                ("l5d-dtab", DTAB),
                ("baggage", f"sidestage={KEY}"),
                ("baggage", "userId=alice"),
            ]
        )


def test_grpcurl_needs_a_real_address():
    with pytest.raises(ValueError, match="host:port"):
        grpcurl_snippet(KEY, "HOST")
    assert "grpcurl" not in render_snippets(KEY, "http://orders.example/")


# --- ModHeader -------------------------------------------------------------------------


def test_modheader_import_sets_only_the_dedicated_header():
    profiles = json.loads(json.dumps(modheader_profiles(KEY, url_regex=".*://shop.example/.*")))
    (profile,) = profiles
    assert set(profile) >= {"title", "headers", "respHeaders", "filters", "appendMode"}
    assert profile["headers"] == [
        {
            "enabled": True,
            "name": "x-sidestage-route",
            "value": KEY,
            "comment": "Sidestage routing key",
        }
    ]
    assert profile["filters"][0]["type"] == "urls"
    assert all(h["name"] != "baggage" for h in profile["headers"])
    (with_dtab,) = modheader_profiles(KEY, extra_headers=L5D)
    assert [h["name"] for h in with_dtab["headers"]] == ["x-sidestage-route", "l5d-dtab"]


# --- mirrord ---------------------------------------------------------------------------


def mirrord_matches(header_filter: str, headers: list[tuple[str, str]]) -> bool:
    """mirrord's agent (mirrord/agent/src/http/filter.rs) compiles the filter as
    ``(?i)<filter>`` with the fancy-regex crate and matches it against each header
    formatted ``<name>: <value>``, the name lowercased by the http crate; one match is
    enough. fancy-regex hands patterns without look-around or backreferences (ours has
    none) to the regex crate, whose syntax and semantics RE2 shares: ``$`` is the end of
    the text, not "before a final newline" as in Python's re. So RE2 it is."""
    compiled = re2.compile(f"(?i){header_filter}")
    return any(compiled.search(f"{name.lower()}: {value}") for name, value in headers)


def test_mirrord_config_is_valid_against_mirrords_published_schema():
    config = mirrord_config(
        KEY, target=f"deployment/orders-sbx-{KEY}", namespace="shop", ports=[8080, 9090]
    )
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(config)
    # The validator is not vacuous: a wrong shape fails.
    broken = json.loads(json.dumps(config))
    broken["feature"]["network"]["incoming"]["http_filter"]["ports"] = "8080"
    assert list(validator.iter_errors(broken))
    broken["feature"]["network"]["incoming"]["mode"] = "borrow"
    assert list(validator.iter_errors(broken))


def test_mirrord_config_lists_the_container_ports_and_refuses_none():
    config = mirrord_config(
        KEY, target=f"deployment/orders-sbx-{KEY}", namespace="shop", ports=[8080, 8080, 81]
    )
    incoming = config["feature"]["network"]["incoming"]
    assert incoming["mode"] == "steal"
    assert incoming["http_filter"]["ports"] == [81, 8080]
    assert config["target"] == {"path": f"deployment/orders-sbx-{KEY}", "namespace": "shop"}
    for bad in ([], [0], [70000]):
        with pytest.raises(ValueError, match="container ports"):
            mirrord_config(KEY, target="deployment/x", namespace="shop", ports=bad)


@pytest.mark.parametrize(
    ("headers", "steals"),
    [
        ([("x-sidestage-route", KEY)], True),
        ([("X-Sidestage-Route", KEY)], True),
        ([("baggage", f"a=1, sidestage={KEY};p")], True),
        ([("baggage", f"sidestage={KEY}")], True),
        ([("Baggage", f"userId=alice,sidestage={KEY}")], True),
        # A second baggage header (HTTPie, grpcurl): each header is matched on its own.
        ([("baggage", "userId=alice"), ("baggage", f"sidestage={KEY}")], True),
        # Case-insensitive, unlike Istio's exact match: an upper-cased key would be
        # stolen here but not routed by the mesh. Keys are lowercase, so both agree.
        ([("x-sidestage-route", KEY.upper())], True),
        ([("x-sidestage-route", f"{KEY}0")], False),
        ([("baggage", f"sidestage={KEY}0")], False),
        ([("baggage", f"xsidestage={KEY}")], False),
        ([("x-other", KEY)], False),
        ([("baggage", f"a=1;sidestage={KEY}")], False),
        ([("x-sidestage-route", "zzz0000000000000000z")], False),
        ([("x-sidestage-route", f"{KEY}\n")], False),
        ([("user-agent", f"x-sidestage-route: {KEY}")], False),
    ],
)
def test_mirrord_header_filter_with_mirrords_semantics(headers, steals):
    config = mirrord_config(KEY, target="deployment/x", namespace="shop", ports=[8080])
    header_filter = config["feature"]["network"]["incoming"]["http_filter"]["header_filter"]
    assert header_filter == mirrord_header_filter(KEY)
    assert mirrord_matches(header_filter, headers) is steals


# --- everything together ---------------------------------------------------------------


def test_render_snippets_has_every_format_and_rejects_bad_keys():
    snippets = render_snippets(
        KEY, "http://orders.example/", grpc_address="orders.shop:9090", extra_headers=L5D
    )
    assert set(snippets) == {
        "curl",
        "httpie",
        "grpcurl",
        "python-requests",
        "javascript-fetch",
        "opentelemetry-python",
        "postman",
        "modheader",
    }
    for name, text in snippets.items():
        assert DTAB in text, name
    json.loads(snippets["postman"])
    json.loads(snippets["modheader"])
    with pytest.raises(ValueError):
        curl_snippet("'; rm -rf / #", "http://x/")
    # Every format has a note on baggage and on how it is tested.
    assert set(snippets) | {"mirrord", "dtab"} <= set(BAGGAGE_NOTES)


def test_quoting_survives_hostile_urls():
    snippet = curl_snippet(KEY, "http://x/?q=$(id)'\"")
    argv = shlex.split(snippet)
    assert argv[-1] == "http://x/?q=$(id)'\""
    assert re.search(r"\$\(id\)", snippet)
