"""The snippets of one sandbox, by format name. The snippet text itself comes from
`routing.snippets` (pure functions); this module only picks the inputs from the
sandbox: its key, a target URL, the fork to steal for mirrord, the Linkerd 1 dtab."""

from __future__ import annotations

import contextlib
import json

from django.conf import settings

from routing import snippets as rs
from routing.linkerd import DTAB_HEADER, render_dtab
from routing.model import WireConfig
from routing.names import fork_object_name
from sandboxes.models import Fork, Mesh, Sandbox

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


def wire_config() -> WireConfig:
    return WireConfig(
        baggage_member=settings.SIDESTAGE_BAGGAGE_KEY, header=settings.SIDESTAGE_ROUTE_HEADER
    )


def _forks(sandbox: Sandbox) -> list[Fork]:
    return sorted(sandbox.forks.all(), key=lambda f: f.baseline.name)


def default_url(sandbox: Sandbox) -> str:
    """The first forked service's in-cluster address: where a test would send traffic."""
    forks = _forks(sandbox)
    if not forks:
        return "http://localhost/"
    baseline = forks[0].baseline
    ports = [p for p in baseline.ports or [] if isinstance(p, int)]
    port = f":{min(ports)}" if ports and min(ports) != 80 else ""
    return f"http://{baseline.host}{port}/"


def linkerd1_dtab(sandbox: Sandbox) -> str | None:
    pairs = [
        (f.baseline.service, fork_object_name(f.baseline.name, sandbox.routing_key))
        for f in _forks(sandbox)
        if f.baseline.mesh == Mesh.LINKERD1
    ]
    return render_dtab(pairs) if pairs else None


def mirrord_snippet(sandbox: Sandbox, service: str | None = None) -> str:
    forks = _forks(sandbox)
    if service is not None:
        forks = [f for f in forks if f.baseline.name == service]
        if not forks:
            raise SnippetUnavailable(f"This sandbox does not fork {service!r}.")
    if not forks:
        raise SnippetUnavailable("This sandbox has no forks.")
    baseline = forks[0].baseline
    config = rs.mirrord_config(
        sandbox.routing_key,
        target=f"deployment/{fork_object_name(baseline.name, sandbox.routing_key)}",
        namespace=baseline.namespace,
        ports=[p for p in baseline.ports or [] if isinstance(p, int)],
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
    rendered = rs.render_snippets(key, url or default_url(sandbox), wire=wire)
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
    return sandbox_snippets(sandbox, url=url, service=service)[fmt]
