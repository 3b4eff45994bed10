"""Which container ports a Service's ports land on: the ports a process inside the pod
binds, which is what mirrord's ``http_filter.ports`` must list.

A Service port forwards to its ``targetPort``: a number, a name looked up in the pod's
container ports, or nothing at all (then the same number as ``port``). mirrord filters
only the ports it is told about and steals every other port the local app binds with
no filter, so a wrong guess steals everybody's traffic: anything that cannot be
resolved is an error, never a fallback.
"""

from __future__ import annotations

from typing import Any


class UnresolvedPorts(ValueError):
    """The Service's target ports cannot be mapped to container ports."""


def _named_container_ports(pod_template: dict[str, Any]) -> dict[str, list[int]]:
    spec = pod_template.get("spec") or {}
    # Sidecar init containers (restartPolicy: Always) keep running and serve ports too.
    containers = [*(spec.get("containers") or [])] + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    named: dict[str, list[int]] = {}
    for container in containers:
        for port in container.get("ports") or []:
            if not port.get("name") or port.get("containerPort") is None:
                continue
            if (port.get("protocol") or "TCP") == "TCP":
                named.setdefault(port["name"], []).append(int(port["containerPort"]))
    return named


def resolve_target_ports(
    service: dict[str, Any] | None, deployment: dict[str, Any] | None
) -> list[int]:
    """The sorted container ports the Service's TCP ports forward to.

    Raises ``UnresolvedPorts`` with a message a person can act on when the Service is
    missing or has no TCP ports, or a named ``targetPort`` has no container port of that
    name in the Deployment's pod template (Kubernetes would then send the traffic
    nowhere, and so must we).
    """
    if service is None:
        raise UnresolvedPorts("the baseline Service does not exist")
    ports = [
        p
        for p in ((service.get("spec") or {}).get("ports") or [])
        if (p.get("protocol") or "TCP") == "TCP"
    ]
    if not ports:
        raise UnresolvedPorts("the baseline Service has no TCP ports")
    named: dict[str, list[int]] | None = None
    resolved: set[int] = set()
    for port in ports:
        target = port.get("targetPort")
        if target is None or target == "":
            resolved.add(int(port["port"]))
        elif isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
            resolved.add(int(target))
        else:
            if deployment is None:
                raise UnresolvedPorts(
                    f"Service port {port['port']} targets the named port {target!r}, and "
                    "the baseline Deployment does not exist to resolve it"
                )
            if named is None:
                named = _named_container_ports((deployment.get("spec") or {}).get("template") or {})
            matches = sorted(set(named.get(target, [])))
            if len(matches) != 1:
                why = "no container port" if not matches else "several container ports"
                raise UnresolvedPorts(
                    f"Service port {port['port']} targets the named port {target!r}, and the "
                    f"baseline Deployment's pod template has {why} of that name"
                )
            resolved.add(matches[0])
    return sorted(resolved)
