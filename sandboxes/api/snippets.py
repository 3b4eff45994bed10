"""The snippets of one sandbox, by format name. The snippet text itself comes from
`routing.snippets` (pure functions); this module only picks the inputs from the
sandbox: its key, a target URL and gRPC address, the fork to steal for mirrord with
the container ports the reconciler resolved, and the Linkerd 1 dtab every client
snippet carries."""

from __future__ import annotations

import contextlib
import json

from django.conf import settings

from routing import snippets as rs
from routing.linkerd import DTAB_HEADER, render_dtab
from routing.model import WireConfig
from routing.names import fork_object_name
from sandboxes.models import BaselineService, Fork, Mesh, Sandbox

# The formats the CLI's `--format` offers first; the rest follow.
FORMATS = (
    "curl",
    "header",
    "baggage",
    "modheader",
    "mirrord",
    "dtab",
    "httpie",
    "grpcurl",
    "python-requests",
    "javascript-fetch",
    "opentelemetry-python",
    "postman",
)


class SnippetUnavailable(LookupError):
    """The format exists but makes no sense for this sandbox (e.g. dtab without a
    Linkerd 1 fork), or the requested fork is not in the sandbox."""


class SnippetNotReady(SnippetUnavailable):
    """The format applies, but what it needs is not known (yet): mirrord without the
    fork's resolved container ports. The API answers 409."""


def wire_config() -> WireConfig:
    return WireConfig(
        baggage_member=settings.SIDESTAGE_BAGGAGE_KEY, header=settings.SIDESTAGE_ROUTE_HEADER
    )


def _forks(sandbox: Sandbox) -> list[Fork]:
    return sorted(sandbox.forks.all(), key=lambda f: f.baseline.name)


def _int_ports(baseline: BaselineService) -> list[int]:
    return sorted(p for p in baseline.ports or [] if isinstance(p, int))


def default_url(sandbox: Sandbox) -> str:
    """The first forked service's address: where a test would send traffic.

    For Linkerd 1 the host is the one the router names requests by and there is no
    port: the request goes through the Linkerd 1 proxy and its Host header must be
    exactly the name the dentry matches (``Host: world`` for ``/host/world``)."""
    forks = _forks(sandbox)
    if not forks:
        return "http://localhost/"
    baseline = forks[0].baseline
    if baseline.mesh == Mesh.LINKERD1:
        return f"http://{baseline.client_host}/"
    ports = _int_ports(baseline)
    port = f":{ports[0]}" if ports and ports[0] != 80 else ""
    return f"http://{baseline.host}{port}/"


def grpc_target(sandbox: Sandbox) -> tuple[str, str | None] | None:
    """``(host:port, authority)`` for grpcurl: the first fork's gRPC port from the
    catalog, else its first port. For Linkerd 1 the ``:authority`` is the name its
    router identifies the service by. None without forks or ports."""
    for fork in _forks(sandbox):
        baseline = fork.baseline
        port = baseline.grpc_port or next(iter(_int_ports(baseline)), None)
        if port is None:
            continue
        authority = baseline.client_host if baseline.mesh == Mesh.LINKERD1 else None
        return f"{baseline.host}:{port}", authority
    return None


def linkerd1_dtab(sandbox: Sandbox) -> str | None:
    entries = [
        f.baseline.linkerd1_dentry(fork_object_name(f.baseline.name, sandbox.routing_key))
        for f in _forks(sandbox)
        if f.baseline.mesh == Mesh.LINKERD1
    ]
    return render_dtab(entries) if entries else None


def extra_headers(sandbox: Sandbox) -> rs.Headers:
    """Headers every client snippet sends besides the key: Linkerd 1's dtab."""
    dtab = linkerd1_dtab(sandbox)
    return ((DTAB_HEADER, dtab),) if dtab else ()


def mirrord_snippet(sandbox: Sandbox, service: str | None = None) -> str:
    forks = _forks(sandbox)
    if service is not None:
        forks = [f for f in forks if f.baseline.name == service]
        if not forks:
            raise SnippetUnavailable(f"This sandbox does not fork {service!r}.")
    if not forks:
        raise SnippetUnavailable("This sandbox has no forks.")
    fork = forks[0]
    baseline = fork.baseline
    status = fork.status or {}
    # Container ports only: with Service ports mirrord would steal everything that
    # reaches a port it was not told about (see routing.ports).
    ports = status.get("containerPorts")
    if not ports:
        why = status.get("containerPortsError") or (
            "the reconciler has not read the baseline Service and Deployment yet"
        )
        raise SnippetNotReady(
            f"No mirrord config for {baseline.name}: its container ports are unknown "
            f"({why}). mirrord would steal every request on a port it is not told about."
        )
    config = rs.mirrord_config(
        sandbox.routing_key,
        target=f"deployment/{fork_object_name(baseline.name, sandbox.routing_key)}",
        namespace=baseline.namespace,
        ports=ports,
        wire=wire_config(),
    )
    return json.dumps(config, indent=2)


def sandbox_snippets(
    sandbox: Sandbox, *, url: str | None = None, service: str | None = None
) -> dict[str, str]:
    """Every snippet that applies to this sandbox, in FORMATS order."""
    wire = wire_config()
    key = sandbox.routing_key
    dtab = linkerd1_dtab(sandbox)
    extra = extra_headers(sandbox)
    rendered = rs.render_snippets(key, url or default_url(sandbox), wire=wire, extra_headers=extra)
    grpc = grpc_target(sandbox)
    if grpc:
        address, authority = grpc
        rendered["grpcurl"] = rs.grpcurl_snippet(
            key, address, wire=wire, extra_headers=extra, authority=authority
        )
    rendered["header"] = f"{wire.header}: {key}"
    rendered["baggage"] = f"baggage: {wire.baggage_member}={key}"
    with contextlib.suppress(SnippetUnavailable):
        rendered["mirrord"] = mirrord_snippet(sandbox, service)
    if dtab:
        rendered["dtab"] = f"{DTAB_HEADER}: {dtab}"
    return {name: rendered[name] for name in FORMATS if name in rendered}


def sandbox_snippet(
    sandbox: Sandbox, fmt: str, *, url: str | None = None, service: str | None = None
) -> str:
    if fmt not in FORMATS:
        raise KeyError(fmt)
    if fmt == "mirrord":
        return mirrord_snippet(sandbox, service)
    if fmt == "dtab" and linkerd1_dtab(sandbox) is None:
        raise SnippetUnavailable("This sandbox has no Linkerd 1 fork, so it needs no dtab.")
    snippets = sandbox_snippets(sandbox, url=url, service=service)
    if fmt not in snippets:
        raise SnippetUnavailable(f"This sandbox has no {fmt} snippet: no fork has a port.")
    return snippets[fmt]
