"""Shareable snippets that send a request with one sandbox or tenant key.

Every snippet sends both the dedicated header and the ``baggage`` member, and
adds to whatever baggage the caller already sends instead of replacing it: the
baggage also carries their tracing context. Where a tool cannot append (a browser
extension), the snippet sets only the dedicated header.
"""

from __future__ import annotations

import json
import shlex

from routing.baggage import baggage_match_regex
from routing.keys import is_valid_routing_key
from routing.model import DEFAULT_WIRE, WireConfig

POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def _check(key: str) -> None:
    if not is_valid_routing_key(key):
        raise ValueError("not a valid routing key")


def curl_snippet(key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE) -> str:
    """curl sends each ``-H`` line as given, so a ``baggage`` header the user adds
    is sent beside ours and a mesh reads both as one list."""
    _check(key)
    return (
        f"curl -sS -H {shlex.quote(f'{wire.header}: {key}')} "
        f"-H {shlex.quote(f'baggage: {wire.baggage_member}={key}')} {shlex.quote(url)}"
    )


def httpie_snippet(key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE) -> str:
    _check(key)
    return (
        f"http GET {shlex.quote(url)} {shlex.quote(f'{wire.header}:{key}')} "
        f"{shlex.quote(f'baggage:{wire.baggage_member}={key}')}"
    )


def grpcurl_snippet(key: str, address: str, method: str = "list", *,
                    plaintext: bool = True, wire: WireConfig = DEFAULT_WIRE) -> str:
    """gRPC metadata keys are lowercase header names; -H may repeat."""
    _check(key)
    flags = "-plaintext " if plaintext else ""
    return (
        f"grpcurl {flags}-H {shlex.quote(f'{wire.header}: {key}')} "
        f"-H {shlex.quote(f'baggage: {wire.baggage_member}={key}')} "
        f"{shlex.quote(address)} {shlex.quote(method)}"
    )


def python_requests_snippet(key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE) -> str:
    _check(key)
    return f'''import requests
from requests.structures import CaseInsensitiveDict

SIDESTAGE_KEY = {key!r}


def with_sidestage(headers=None):
    """Add the Sidestage key; keeps any baggage you already send."""
    headers = CaseInsensitiveDict(headers or {{}})
    member = {wire.baggage_member + "="!r} + SIDESTAGE_KEY
    kept = [m.strip() for m in headers.get("baggage", "").split(",")
            if m.strip() and m.split("=")[0].strip() != {wire.baggage_member!r}]
    headers["baggage"] = ",".join([*kept, member])
    headers[{wire.header!r}] = SIDESTAGE_KEY
    return headers


response = requests.get({url!r}, headers=with_sidestage(), timeout=10)
print(response.status_code)
'''


def javascript_fetch_snippet(key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE) -> str:
    _check(key)
    return f'''const SIDESTAGE_KEY = {json.dumps(key)};

// Adds the Sidestage key; keeps any baggage you already send.
function withSidestage(init = {{}}) {{
  const headers = new Headers(init);
  const kept = (headers.get("baggage") || "").split(",")
    .map((m) => m.trim())
    .filter((m) => m && m.split("=")[0].trim() !== {json.dumps(wire.baggage_member)});
  const member = {json.dumps(wire.baggage_member + "=")} + SIDESTAGE_KEY;
  headers.set("baggage", [...kept, member].join(","));
  headers.set({json.dumps(wire.header)}, SIDESTAGE_KEY);
  return headers;
}}

const response = await fetch({json.dumps(url)}, {{ headers: withSidestage() }});
console.log(response.status);
'''


def opentelemetry_python_snippet(key: str, url: str, *,
                                 wire: WireConfig = DEFAULT_WIRE) -> str:
    """OpenTelemetry's baggage API adds to the current context and the W3C propagator
    writes the merged header, so the app's own baggage and trace context survive."""
    _check(key)
    return f'''import requests
from opentelemetry import baggage, context
from opentelemetry.propagate import inject

SIDESTAGE_KEY = {key!r}

token = context.attach(baggage.set_baggage({wire.baggage_member!r}, SIDESTAGE_KEY))
try:
    headers = {{{wire.header!r}: SIDESTAGE_KEY}}
    inject(headers)  # traceparent plus every baggage member in the context
    response = requests.get({url!r}, headers=headers, timeout=10)
    print(response.status_code)
finally:
    context.detach(token)
'''


def postman_collection(key: str, url: str, *, name: str = "Sidestage sandbox",
                       wire: WireConfig = DEFAULT_WIRE) -> dict:
    """A Postman v2.1 collection. A collection-level pre-request script appends our
    baggage member to each request's own baggage, so a request's header survives."""
    _check(key)
    script = [
        "const key = pm.collectionVariables.get('sidestage_key');",
        f"const member = {json.dumps(wire.baggage_member + '=')} + key;",
        "const current = pm.request.headers.get('baggage') || '';",
        "const kept = current.split(',').map((m) => m.trim())",
        f"  .filter((m) => m && m.split('=')[0].trim() !== {json.dumps(wire.baggage_member)});",
        "pm.request.headers.upsert({ key: 'baggage', value: [...kept, member].join(',') });",
        f"pm.request.headers.upsert({{ key: {json.dumps(wire.header)}, value: key }});",
    ]
    return {
        "info": {"name": name, "schema": POSTMAN_SCHEMA},
        "variable": [{"key": "sidestage_key", "value": key}],
        "event": [{"listen": "prerequest",
                   "script": {"type": "text/javascript", "exec": script}}],
        "item": [{
            "name": "Request through the sandbox",
            "request": {
                "method": "GET",
                "header": [{"key": wire.header, "value": "{{sidestage_key}}"}],
                "url": {"raw": url},
            },
        }],
    }


def modheader_profiles(key: str, *, title: str = "Sidestage",
                       url_regex: str | None = None,
                       wire: WireConfig = DEFAULT_WIRE) -> list[dict]:
    """A ModHeader import (a list of profiles) that sets only the dedicated header.

    Browser extensions set headers through Chrome's declarativeNetRequest, which
    cannot append to ``baggage``; setting it would overwrite the page's tracing
    baggage, so the extension sends the dedicated header alone.
    """
    _check(key)
    filters = ([{"enabled": True, "type": "urls", "urlRegex": url_regex}]
               if url_regex else [])
    return [{
        "title": title,
        "hideComment": True,
        "headers": [{"enabled": True, "name": wire.header, "value": key,
                     "comment": "Sidestage routing key"}],
        "respHeaders": [],
        "filters": filters,
        "urlReplacements": [],
        "appendMode": False,
    }]


def mirrord_header_filter(key: str, *, wire: WireConfig = DEFAULT_WIRE) -> str:
    """mirrord matches its filter against ``"<name>: <value>"`` for each header."""
    _check(key)
    baggage = baggage_match_regex([key], wire.baggage_member)[1:-1]  # drop ^ and $
    header = "".join(c if c.isalnum() else "\\" + c for c in wire.header)
    return f"^(?:{header}:[ \\t]*{key}[ \\t]*|baggage:[ \\t]*{baggage})$"


def mirrord_config(key: str, *, target: str, namespace: str, ports: list[int],
                   wire: WireConfig = DEFAULT_WIRE) -> dict:
    """mirrord config that steals to a laptop only the requests carrying ``key``.

    ``target`` is e.g. ``deployment/orders-sbx-<key>`` (the fork) or the baseline
    Deployment; either way requests without the key stay in the cluster.
    """
    return {
        "target": {"path": target, "namespace": namespace},
        "feature": {"network": {"incoming": {
            "mode": "steal",
            "http_filter": {"header_filter": mirrord_header_filter(key, wire=wire),
                            "ports": sorted(ports)},
        }}},
    }


def render_snippets(key: str, url: str, *, grpc_address: str | None = None,
                    linkerd1_dtab: str | None = None,
                    wire: WireConfig = DEFAULT_WIRE) -> dict[str, str]:
    """Every text snippet for one key, by format name, JSON ones pretty-printed."""
    snippets = {
        "curl": curl_snippet(key, url, wire=wire),
        "httpie": httpie_snippet(key, url, wire=wire),
        "grpcurl": grpcurl_snippet(key, grpc_address or "HOST:PORT", wire=wire),
        "python-requests": python_requests_snippet(key, url, wire=wire),
        "javascript-fetch": javascript_fetch_snippet(key, url, wire=wire),
        "opentelemetry-python": opentelemetry_python_snippet(key, url, wire=wire),
        "postman": json.dumps(postman_collection(key, url, wire=wire), indent=2),
        "modheader": json.dumps(modheader_profiles(key, wire=wire), indent=2),
    }
    if linkerd1_dtab:
        snippets["linkerd1-dtab"] = f"l5d-dtab: {linkerd1_dtab}"
    return snippets
