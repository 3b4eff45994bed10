"""Each snippet format, executed where the tool exists here, parsed otherwise."""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from routing.baggage import parse_baggage
from routing.snippets import (
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

KEY = "abc0000000000000000x"


class Recorder(BaseHTTPRequestHandler):
    received: list[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        Recorder.received.append(list(self.headers.items()))
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
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


def test_curl_snippet_reaches_the_server_with_key_and_keeps_existing_baggage(server):
    snippet = curl_snippet(KEY, server)
    assert snippet.startswith("curl ")
    # The user's own baggage header, added the way they would add it.
    subprocess.run(f"{snippet} -H 'baggage: userId=alice;p=1'", shell=True, check=True,  # noqa: S602
                   capture_output=True, timeout=30)
    assert received("x-sidestage-route") == [KEY]
    assert baggage_of_last_request() == {"sidestage": KEY, "userId": "alice"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_curl_snippet_quotes_urls(server):
    snippet = curl_snippet(KEY, server + "?a=1&b='x'")
    subprocess.run(snippet, shell=True, check=True, capture_output=True, timeout=30)  # noqa: S602
    assert received("x-sidestage-route") == [KEY]


def test_python_requests_snippet(server):
    pytest.importorskip("requests")
    snippet = python_requests_snippet(KEY, server)
    program = snippet + (
        "\nresponse = requests.get(" + repr(server)
        + ", headers=with_sidestage({'Baggage': 'userId=alice, sidestage=old0000000000000000'}),"
        " timeout=10)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.split() == ["200", ]
    assert len(Recorder.received) == 2
    Recorder.received = Recorder.received[1:]
    assert received("x-sidestage-route") == [KEY]
    assert baggage_of_last_request() == {"userId": "alice", "sidestage": KEY}


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node missing")
def test_javascript_fetch_snippet(server, tmp_path):
    snippet = javascript_fetch_snippet(KEY, server)
    extra = (f"\nawait fetch({json.dumps(server)}, "
             "{ headers: withSidestage({ baggage: 'userId=alice' }) });\n")
    script = tmp_path / "snippet.mjs"
    script.write_text(snippet + extra)
    out = subprocess.run([NODE, str(script)], check=True, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "200"
    Recorder.received = Recorder.received[1:]
    assert received("x-sidestage-route") == [KEY]
    assert baggage_of_last_request() == {"userId": "alice", "sidestage": KEY}


@pytest.mark.skipif(NODE is None, reason="node missing")
def test_postman_prerequest_script_appends_to_baggage(tmp_path):
    collection = postman_collection(KEY, "http://orders.example/")
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    (item,) = collection["item"]
    assert item["request"]["header"] == [{"key": "x-sidestage-route",
                                          "value": "{{sidestage_key}}"}]
    script = "\n".join(collection["event"][0]["script"]["exec"])
    # A minimal stand-in for Postman's sandbox: the pm API the script uses.
    variables = json.dumps({v["key"]: v["value"] for v in collection["variable"]})
    harness = f"""
const store = new Map([["baggage", "userId=alice"]]);
const pm = {{
  collectionVariables: {{ get: (k) => ({variables})[k] }},
  request: {{ headers: {{
    get: (k) => store.get(k.toLowerCase()),
    upsert: (h) => store.set(h.key.toLowerCase(), h.value),
  }} }},
}};
// Postman runs each script in its own scope; running it twice proves it is idempotent.
{{ {script} }}
{{ {script} }}
console.log(JSON.stringify(Object.fromEntries(store)));
"""
    path = tmp_path / "postman.js"
    path.write_text(harness)
    out = subprocess.run([NODE, str(path)], check=True, capture_output=True, text=True,
                         timeout=60)
    assert json.loads(out.stdout) == {"baggage": f"userId=alice,sidestage={KEY}",
                                      "x-sidestage-route": KEY}


def test_httpie_and_grpcurl_snippets_are_well_formed_commands():
    argv = shlex.split(httpie_snippet(KEY, "http://orders.example/"))
    assert argv == ["http", "GET", "http://orders.example/", f"x-sidestage-route:{KEY}",
                    f"baggage:sidestage={KEY}"]
    argv = shlex.split(grpcurl_snippet(KEY, "orders.shop:9090", "orders.v1.Orders/List"))
    assert argv == ["grpcurl", "-plaintext", "-H", f"x-sidestage-route: {KEY}",
                    "-H", f"baggage: sidestage={KEY}", "orders.shop:9090",
                    "orders.v1.Orders/List"]


def test_opentelemetry_snippet_compiles_and_uses_the_baggage_api():
    snippet = opentelemetry_python_snippet(KEY, "http://orders.example/")
    tree = ast.parse(snippet)
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert {"set_baggage", "attach", "detach"} <= calls
    assert "inject(headers)" in snippet


def test_modheader_import_sets_only_the_dedicated_header():
    profiles = json.loads(json.dumps(modheader_profiles(KEY, url_regex=".*://shop.example/.*")))
    (profile,) = profiles
    assert set(profile) >= {"title", "headers", "respHeaders", "filters", "appendMode"}
    assert profile["headers"] == [{"enabled": True, "name": "x-sidestage-route", "value": KEY,
                                   "comment": "Sidestage routing key"}]
    assert profile["filters"][0]["type"] == "urls"
    assert all(h["name"] != "baggage" for h in profile["headers"])


def test_mirrord_config_steals_only_this_keys_traffic():
    config = json.loads(json.dumps(mirrord_config(
        KEY, target=f"deployment/orders-sbx-{KEY}", namespace="shop", ports=[8080])))
    incoming = config["feature"]["network"]["incoming"]
    assert incoming["mode"] == "steal"
    assert incoming["http_filter"]["ports"] == [8080]
    assert config["target"] == {"path": f"deployment/orders-sbx-{KEY}", "namespace": "shop"}
    regex = incoming["http_filter"]["header_filter"]
    assert regex == mirrord_header_filter(KEY)
    for line in [f"x-sidestage-route: {KEY}", f"baggage: a=1, sidestage={KEY};p",
                 f"baggage: sidestage={KEY}"]:
        assert re.search(regex, line), line
    for line in [f"x-sidestage-route: {KEY}0", f"baggage: sidestage={KEY}0",
                 f"baggage: xsidestage={KEY}", f"x-other: {KEY}", f"baggage: a=1;sidestage={KEY}",
                 "x-sidestage-route: zzz0000000000000000z"]:
        assert not re.search(regex, line), line


def test_render_snippets_has_every_format_and_rejects_bad_keys():
    snippets = render_snippets(KEY, "http://orders.example/",
                               linkerd1_dtab=f"/svc/orders => /svc/orders-sbx-{KEY};")
    assert set(snippets) == {"curl", "httpie", "grpcurl", "python-requests", "javascript-fetch",
                             "opentelemetry-python", "postman", "modheader", "linkerd1-dtab"}
    json.loads(snippets["postman"])
    json.loads(snippets["modheader"])
    with pytest.raises(ValueError):
        curl_snippet("'; rm -rf / #", "http://x/")
