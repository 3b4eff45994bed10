"""Linkerd 2's own HTTPRoute (``policy.linkerd.io``): the Gateway API shape under
Linkerd's apiVersion, for clusters whose Linkerd predates (or does not install) the
Gateway API CRDs."""

from __future__ import annotations

from routing.meshes.gateway_api import HTTPRouteMesh

LINKERD_POLICY_VERSION = "policy.linkerd.io/v1beta3"


class LinkerdPolicyMesh(HTTPRouteMesh):
    name = "linkerd-policy"
    label = "Linkerd 2 (policy.linkerd.io HTTPRoute)"
    api_version = LINKERD_POLICY_VERSION
    kinds = ((LINKERD_POLICY_VERSION, "HTTPRoute"),)
    sandbox_kinds = kinds


MESH = LinkerdPolicyMesh()
