"""How `/api/v1/sandboxes/{name}` finds its sandbox, and which tenant a new one gets.

Names are unique per tenant, so a name alone may be ambiguous. The rules:

Reads, updates, deletes and actions on an existing sandbox:
1. a tenant-scoped token: its tenant;
2. else the `tenant` query parameter (`name` or `team/name`);
3. else the one sandbox of that name the caller can see; if there are several, 400
   with a field error on `tenant`.

Create (POST, and PUT which creates when missing): the tenant is
1. a tenant-scoped token's tenant;
2. else `tenant` from the body or the query (they must agree);
3. else the tenant the caller owns, if they own exactly one in scope;
4. else the only tenant they can use; otherwise 400 asking for `tenant`.

A tenant the caller cannot see answers like one that does not exist, so other
teams' names never leak.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions

from sandboxes import selectors
from sandboxes.errors import ValidationFailed
from sandboxes.models import ApiToken, Sandbox, Tenant
from sandboxes.validation import DNS1123_LABEL_RE


def request_token(request: Any) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def _tenant_matches(qs: QuerySet[Tenant], ref: str) -> list[Tenant]:
    team, _, name = ref.rpartition("/")
    qs = qs.filter(team__slug=team, name=name) if team else qs.filter(name=name)
    return list(qs[:2])


def tenant_from_ref(request: Any, ref: str) -> Tenant:
    """The visible tenant named `ref` (`name` or `team/name`); ValidationFailed if none."""
    matches = _tenant_matches(selectors.tenants_for_user(request.user, request_token(request)), ref)
    if not matches:
        raise ValidationFailed({"tenant": [f"Unknown tenant {ref!r}."]})
    if len(matches) > 1:
        raise ValidationFailed(
            {"tenant": [f"Several of your teams have a tenant {ref!r}; write it as team/name."]}
        )
    return matches[0]


def agreed_tenant_ref(query_ref: str | None, body_ref: str | None) -> str | None:
    if query_ref and body_ref and query_ref != body_ref:
        raise ValidationFailed(
            {"tenant": [f"The query says tenant {query_ref!r} but the body says {body_ref!r}."]}
        )
    return query_ref or body_ref or None


def tenant_for_create(request: Any, ref: str | None) -> Tenant:
    token = request_token(request)
    if token is not None and token.tenant_id is not None:
        if ref and ref not in (token.tenant.name, str(token.tenant)):
            raise ValidationFailed(
                {"tenant": [f"This API token may only act for tenant {token.tenant.name}."]}
            )
        return token.tenant
    if ref:
        return tenant_from_ref(request, ref)
    visible = selectors.tenants_for_user(request.user, token)
    owned = list(visible.filter(owner=request.user)[:2])
    if len(owned) == 1:
        return owned[0]
    usable = list(visible[:2])
    if len(usable) == 1:
        return usable[0]
    raise ValidationFailed(
        {"tenant": ["You can use several tenants (or none); say which one with `tenant`."]}
    )


def sandbox_for_request(request: Any, name: str, tenant_ref: str | None) -> Sandbox:
    """The sandbox `name` the caller may see, by the rules above; NotFound otherwise."""
    if not isinstance(name, str) or len(name) > 63 or not DNS1123_LABEL_RE.match(name):
        raise exceptions.NotFound(f"Sandbox {name!r} not found.")
    token = request_token(request)
    qs = selectors.sandboxes_for_user(request.user, token).filter(name=name)
    if tenant_ref:
        try:
            tenant = tenant_from_ref(request, tenant_ref)
        except ValidationFailed as exc:
            raise exceptions.NotFound(f"Sandbox {name!r} not found.") from exc
        qs = qs.filter(tenant=tenant)
    # A deleted sandbox keeps its row; a new one may have taken its name since. The
    # present one wins; otherwise the latest deleted one (so a client can still read
    # its Deleted status).
    present = qs.filter(deleted_at__isnull=True)
    found = list(present[:2]) or list(qs.order_by("-deleted_at")[:1])
    if not found:
        raise exceptions.NotFound(f"Sandbox {name!r} not found.")
    if len(found) > 1:
        tenants = ", ".join(sorted(str(s.tenant) for s in present))
        raise ValidationFailed(
            {
                "tenant": [
                    f"Several sandboxes are named {name} ({tenants}); "
                    "pass ?tenant=<name> or team/name."
                ]
            }
        )
    return found[0]


def sandbox_for_put(request: Any, name: str, tenant: Tenant) -> Sandbox | None:
    """The sandbox `name` of `tenant`, or None when PUT should create it."""
    token = request_token(request)
    return (
        selectors.sandboxes_for_user(request.user, token)
        .filter(tenant=tenant, name=name, deleted_at__isnull=True)
        .first()
    )
