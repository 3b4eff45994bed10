"""Shareable snippets that send a request with one sandbox or tenant key.

Every snippet sends both the dedicated header and the ``baggage`` member, and
adds to whatever baggage the caller already sends instead of replacing it: the
baggage also carries their tracing context. Where a tool cannot append (a browser
extension), the snippet sets only the dedicated header.

``extra_headers`` are sent as they are by every client snippet: a Linkerd 1 sandbox
passes its ``l5d-dtab`` there, since Linkerd 1 routes by that header alone.
"""

from __future__ import annotations

import json
import shlex

from routing.baggage import baggage_match_regex
from routing.keys import is_valid_routing_key
from routing.model import DEFAULT_WIRE, WireConfig

POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

Headers = tuple[tuple[str, str], ...]

# What each tool does with the caller's own baggage, and how the test suite proves the
# snippet (tests/routing/test_snippets.py). Shown beside each snippet in the UI and
# listed in docs/routing.md.
BAGGAGE_NOTES: dict[str, str] = {
    "header": "For clients that cannot set baggage. Istio matches it exactly, so "
    "case-sensitively; keys are lowercase. The curl test sends it as is.",
    "baggage": "Append it to the baggage you already send (comma-separated), or send it "
    "as a second baggage header: W3C baggage treats both as one list. The curl test "
    "sends it beside a baggage header of its own.",
    "curl": "Your own -H 'baggage: ...' is sent as a second baggage header; a mesh reads "
    "both as one list. Tested by running curl.",
    "httpie": "HTTPie sends a second baggage header when you add your own "
    "(baggage:...); a mesh reads both as one list. Tested by running HTTPie.",
    "grpcurl": "grpcurl sends your own -H 'baggage: ...' as a second baggage metadata "
    "entry. Tested by running grpcurl (built from its Go module) against a gRPC server "
    "with reflection.",
    "python-requests": "with_sidestage() appends to the baggage you pass and replaces an "
    "older sidestage member. Tested by running it with requests.",
    "javascript-fetch": "withSidestage() appends to the baggage you pass and replaces an "
    "older sidestage member. Tested by running it with Node's fetch.",
    "opentelemetry-python": "The W3C propagator writes every member of the current "
    "context, so your baggage survives, but it re-encodes members that have properties "
    "(userId=alice;p=1 becomes userId=alice%3Bp%3D1). With OTEL_PROPAGATORS=tracecontext "
    "no baggage is sent at all and only the dedicated header routes. Tested by running it "
    "with the OpenTelemetry SDK.",
    "postman": "The collection's pre-request script appends to each request's own "
    "baggage header. Tested by running the collection with Newman.",
    "modheader": "Sets only the dedicated header: an extension cannot append to baggage "
    "and would overwrite the page's. Checked as JSON against ModHeader's import shape; "
    "the extension itself does not run here.",
    "mirrord": "Matches each header as 'name: value', case-insensitively (Istio's exact "
    "match is case-sensitive; routing keys are lowercase, so both agree). Validated "
    "against mirrord's published JSON schema; the filter is tested with mirrord's "
    "regex semantics.",
    "dtab": "Linkerd 1 routes by this header only; every snippet above already carries "
    "it. Tested by binding it with Finagle's Dtab.",
}


def _check(key: str) -> None:
    if not is_valid_routing_key(key):
        raise ValueError("not a valid routing key")


def _headers(key: str, wire: WireConfig, extra: Headers) -> list[tuple[str, str]]:
    _check(key)
    return [(wire.header, key), ("baggage", f"{wire.baggage_member}={key}"), *extra]


def curl_snippet(
    key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE, extra_headers: Headers = ()
) -> str:
    """curl sends each ``-H`` line as given, so a ``baggage`` header the user adds
    is sent beside ours and a mesh reads both as one list."""
    flags = " ".join(
        f"-H {shlex.quote(f'{n}: {v}')}" for n, v in _headers(key, wire, extra_headers)
    )
    return f"curl -sS {flags} {shlex.quote(url)}"


def httpie_snippet(
    key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE, extra_headers: Headers = ()
) -> str:
    items = " ".join(shlex.quote(f"{n}:{v}") for n, v in _headers(key, wire, extra_headers))
    return f"http GET {shlex.quote(url)} {items}"


def grpcurl_snippet(
    key: str,
    address: str,
    method: str = "list",
    *,
    plaintext: bool = True,
    wire: WireConfig = DEFAULT_WIRE,
    extra_headers: Headers = (),
    authority: str | None = None,
) -> str:
    """gRPC metadata keys are lowercase header names; -H may repeat. ``address`` is
    ``host:port``, always with the port: grpcurl has no default. ``authority`` sets
    ``:authority`` (Linkerd 1 names requests by it)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError("grpcurl needs an address as host:port")
    flags = "-plaintext " if plaintext else ""
    if authority:
        flags += f"-authority {shlex.quote(authority)} "
    meta = " ".join(f"-H {shlex.quote(f'{n}: {v}')}" for n, v in _headers(key, wire, extra_headers))
    return f"grpcurl {flags}{meta} {shlex.quote(address)} {shlex.quote(method)}"


def python_requests_snippet(
    key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE, extra_headers: Headers = ()
) -> str:
    _check(key)
    extra = "".join(f"\n    headers[{n!r}] = {v!r}" for n, v in extra_headers)
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
    headers[{wire.header!r}] = SIDESTAGE_KEY{extra}
    return headers


response = requests.get({url!r}, headers=with_sidestage(), timeout=10)
print(response.status_code)
'''


def javascript_fetch_snippet(
    key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE, extra_headers: Headers = ()
) -> str:
    _check(key)
    extra = "".join(f"\n  headers.set({json.dumps(n)}, {json.dumps(v)});" for n, v in extra_headers)
    return f"""const SIDESTAGE_KEY = {json.dumps(key)};

// Adds the Sidestage key; keeps any baggage you already send.
function withSidestage(init = {{}}) {{
  const headers = new Headers(init);
  const kept = (headers.get("baggage") || "").split(",")
    .map((m) => m.trim())
    .filter((m) => m && m.split("=")[0].trim() !== {json.dumps(wire.baggage_member)});
  const member = {json.dumps(wire.baggage_member + "=")} + SIDESTAGE_KEY;
  headers.set("baggage", [...kept, member].join(","));
  headers.set({json.dumps(wire.header)}, SIDESTAGE_KEY);{extra}
  return headers;
}}

const response = await fetch({json.dumps(url)}, {{ headers: withSidestage() }});
console.log(response.status);
"""


def opentelemetry_python_snippet(
    key: str, url: str, *, wire: WireConfig = DEFAULT_WIRE, extra_headers: Headers = ()
) -> str:
    """OpenTelemetry's baggage API adds to the current context and the W3C propagator
    writes the merged header, so the app's own baggage and trace context survive."""
    _check(key)
    extra = "".join(f", {n!r}: {v!r}" for n, v in extra_headers)
    return f"""import requests
from opentelemetry import baggage, context
from opentelemetry.propagate import inject

SIDESTAGE_KEY = {key!r}

token = context.attach(baggage.set_baggage({wire.baggage_member!r}, SIDESTAGE_KEY))
try:
    headers = {{{wire.header!r}: SIDESTAGE_KEY{extra}}}
    inject(headers)  # traceparent plus every baggage member in the context
    response = requests.get({url!r}, headers=headers, timeout=10)
    print(response.status_code)
finally:
    context.detach(token)
"""


def postman_collection(
    key: str,
    url: str,
    *,
    name: str = "Sidestage sandbox",
    wire: WireConfig = DEFAULT_WIRE,
    extra_headers: Headers = (),
) -> dict:
    """A Postman v2.1 collection. A collection-level pre-request script appends our
    baggage member to each request's own baggage, so a request's header survives.

    The request URL is a plain string: with a URL *object*, Postman's runtime (the
    collection SDK, Newman) ignores ``raw`` and builds the URL from host/path parts,
    so ``{"raw": url}`` alone is an empty URL."""
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
        "event": [{"listen": "prerequest", "script": {"type": "text/javascript", "exec": script}}],
        "item": [
            {
                "name": "Request through the sandbox",
                "request": {
                    "method": "GET",
                    "header": [
                        {"key": wire.header, "value": "{{sidestage_key}}"},
                        *({"key": n, "value": v} for n, v in extra_headers),
                    ],
                    "url": url,
                },
            }
        ],
    }


def modheader_profiles(
    key: str,
    *,
    title: str = "Sidestage",
    url_regex: str | None = None,
    wire: WireConfig = DEFAULT_WIRE,
    extra_headers: Headers = (),
) -> list[dict]:
    """A ModHeader import (a list of profiles) that sets only the dedicated header.

    Browser extensions set headers through Chrome's declarativeNetRequest, which
    cannot append to ``baggage``; setting it would overwrite the page's tracing
    baggage, so the extension sends the dedicated header alone.
    """
    _check(key)
    filters = [{"enabled": True, "type": "urls", "urlRegex": url_regex}] if url_regex else []
    return [
        {
            "title": title,
            "hideComment": True,
            "headers": [
                {
                    "enabled": True,
                    "name": wire.header,
                    "value": key,
                    "comment": "Sidestage routing key",
                },
                *(
                    {"enabled": True, "name": n, "value": v, "comment": "Sidestage"}
                    for n, v in extra_headers
                ),
            ],
            "respHeaders": [],
            "filters": filters,
            "urlReplacements": [],
            "appendMode": False,
        }
    ]


def mirrord_header_filter(key: str, *, wire: WireConfig = DEFAULT_WIRE) -> str:
    """mirrord matches its filter against ``"<name>: <value>"`` for each header."""
    _check(key)
    baggage = baggage_match_regex([key], wire.baggage_member)[1:-1]  # drop ^ and $
    header = "".join(c if c.isalnum() else "\\" + c for c in wire.header)
    return f"^(?:{header}:[ \\t]*{key}[ \\t]*|baggage:[ \\t]*{baggage})$"


def mirrord_config(
    key: str, *, target: str, namespace: str, ports: list[int], wire: WireConfig = DEFAULT_WIRE
) -> dict:
    """mirrord config that steals to a laptop only the requests carrying ``key``.

    ``target`` is e.g. ``deployment/orders-sbx-<key>`` (the fork) or the baseline
    Deployment; either way requests without the key stay in the cluster.

    ``ports`` are the *container* ports the app listens on (a Service's resolved
    targetPorts, see ``routing.ports``), never the Service ports: mirrord filters only
    the listed ports and steals any other port the local app binds with no filter.
    """
    if not ports or any(not isinstance(p, int) or not 0 < p < 65536 for p in ports):
        raise ValueError("mirrord needs the container ports the app listens on")
    return {
        "target": {"path": target, "namespace": namespace},
        "feature": {
            "network": {
                "incoming": {
                    "mode": "steal",
                    "http_filter": {
                        "header_filter": mirrord_header_filter(key, wire=wire),
                        "ports": sorted(set(ports)),
                    },
                }
            }
        },
    }


def render_snippets(
    key: str,
    url: str,
    *,
    grpc_address: str | None = None,
    extra_headers: Headers = (),
    wire: WireConfig = DEFAULT_WIRE,
) -> dict[str, str]:
    """Every client snippet for one key, by format name, JSON ones pretty-printed.
    grpcurl only with a ``host:port`` address: a placeholder is not a command."""
    kw = {"wire": wire, "extra_headers": extra_headers}
    snippets = {
        "curl": curl_snippet(key, url, **kw),
        "httpie": httpie_snippet(key, url, **kw),
        "python-requests": python_requests_snippet(key, url, **kw),
        "javascript-fetch": javascript_fetch_snippet(key, url, **kw),
        "opentelemetry-python": opentelemetry_python_snippet(key, url, **kw),
        "postman": json.dumps(postman_collection(key, url, **kw), indent=2),
        "modheader": json.dumps(modheader_profiles(key, **kw), indent=2),
    }
    if grpc_address:
        snippets["grpcurl"] = grpcurl_snippet(key, grpc_address, **kw)
    return snippets
