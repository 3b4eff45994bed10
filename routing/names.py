"""Object names and ownership labels shared by everything Sidestage applies."""

from __future__ import annotations

import base64
import hashlib

from routing.model import is_dns_label

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "sidestage"
SANDBOX_LABEL = "sidestage.dev/sandbox"
SERVICE_LABEL = "sidestage.dev/service"

MAX_NAME = 63
_HASH_LEN = 8


def _digest(value: str) -> str:
    raw = hashlib.sha256(value.encode()).digest()
    return base64.b32encode(raw).decode().lower()[:_HASH_LEN]


def shorten_name(name: str, limit: int = MAX_NAME) -> str:
    """Fit ``name`` into ``limit`` characters as a DNS-1035 label, deterministically.

    A name that fits is kept as is. A longer one is truncated and suffixed with a
    hash of the full name, so two long names that share a prefix stay distinct.
    """
    if not name or not name[0].isalpha():
        # DNS-1035 (Service names) must start with a letter.
        name = f"s-{name}"
    if len(name) <= limit and is_dns_label(name):
        return name
    head = name[: limit - _HASH_LEN - 1].rstrip("-")
    result = f"{head}-{_digest(name)}"
    assert is_dns_label(result) and result[0].isalpha(), result
    return result


def fork_object_name(service: str, key: str) -> str:
    """``<service>-sbx-<key>``: the fork's Deployment, Service and per-sandbox route.

    Always a DNS-1035 label of at most 63 characters; shortened with a hash of the
    full name when the service name is long.
    """
    return shorten_name(f"{service}-sbx-{key}")


def shared_route_name(service: str) -> str:
    """Name of the objects shared by every sandbox of one service (VirtualService, catch-all)."""
    return shorten_name(f"{service}-sidestage")


def managed_labels(*, sandbox_key: str | None = None, service: str | None = None) -> dict[str, str]:
    """The ownership labels: managed-by always, plus the sandbox or the service label."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    if sandbox_key is not None:
        labels[SANDBOX_LABEL] = sandbox_key
    if service is not None:
        labels[SERVICE_LABEL] = service
    return labels
