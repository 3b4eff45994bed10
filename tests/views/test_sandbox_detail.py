"""The sandbox page: conditions, forks, expiry, routes, audit and header snippets."""

from __future__ import annotations

import html

from django.urls import reverse
from django.utils import timezone

from sandboxes import conditions as c
from sandboxes.models import Sandbox


def _url(sandbox: Sandbox) -> str:
    return reverse("sandbox_detail", args=[sandbox.pk])


def test_other_teams_get_404(login, world, make_sandbox):
    sandbox = make_sandbox()
    assert login(world.charlie).get(_url(sandbox)).status_code == 404


def test_members_of_the_team_see_it(login, world, make_sandbox):
    sandbox = make_sandbox()
    assert login(world.bob).get(_url(sandbox)).status_code == 200


def test_conditions_with_reasons_and_forks(login, world, make_sandbox):
    sandbox = make_sandbox(forks=[world.fork("orders", replicas=2), world.fork("frontend")])
    now = timezone.now()
    sandbox.conditions = c.set_condition(
        [],
        type_=c.WORKLOADS_READY,
        status="False",
        reason="ImagePullBackOff",
        message="orders: pull failed",
        generation=1,
        now=now,
    )
    sandbox.conditions = c.set_condition(
        sandbox.conditions,
        type_=c.READY,
        status="False",
        reason="WorkloadsNotReady",
        message="waiting",
        generation=1,
        now=now,
    )
    sandbox.observed_generation = 1
    sandbox.save()
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert 'data-condition="WorkloadsReady"' in body
    assert "ImagePullBackOff" in body and "orders: pull failed" in body
    assert "WorkloadsNotReady" in body
    assert "2 desired" in body
    assert "ghcr.io/acme/orders:pr-1" in body


def test_snippets_carry_the_routing_key_and_have_copy_buttons(login, world, make_sandbox):
    sandbox = make_sandbox(forks=[world.fork("orders"), world.fork("world", image="")])
    # The container ports, as the reconciler records them from the live objects.
    sandbox.forks.filter(baseline=world.orders).update(status={"containerPorts": [8080]})
    body = html.unescape(login(world.alice).get(_url(sandbox)).content.decode())
    key = sandbox.routing_key
    dtab = f"/host/world => /srv/world-sbx-{key};"
    assert (
        f"curl -sS -H 'x-sidestage-route: {key}' -H 'baggage: sidestage={key}' "
        f"-H 'l5d-dtab: {dtab}' http://world/" not in body
    )  # the URL is the first fork's (orders), but the dtab goes with every snippet
    assert (
        f"curl -sS -H 'x-sidestage-route: {key}' -H 'baggage: sidestage={key}' "
        f"-H 'l5d-dtab: {dtab}' http://orders.shop.svc.cluster.local:8080/" in body
    )
    assert f"baggage: sidestage={key}" in body
    for slug in (
        "curl",
        "baggage",
        "header",
        "modheader",
        "mirrord-orders",
        "dtab",
        "httpie",
        "grpcurl",
        "postman",
        "python-requests",
        "javascript-fetch",
        "opentelemetry-python",
    ):
        assert f'data-copy-target="snippet-{slug}"' in body
        assert f'id="snippet-{slug}"' in body
        # Beside each: what the tool does with your baggage, and how it is tested.
        assert f'id="snippet-note-{slug}"' in body
    assert f"l5d-dtab: {dtab}" in body
    assert "HTTPie sends a second baggage header" in body
    assert "OTEL_PROPAGATORS=tracecontext" in body
    assert "case-insensitively" in body and "case-sensitive" in body
    # world's container ports are unknown: no config that could steal everything.
    assert 'data-copy-target="snippet-mirrord-world"' not in body
    assert 'id="snippet-unavailable-mirrord-world"' in body
    assert "No mirrord config for world: its container ports are unknown" in body


def test_routes_yaml_shows_only_this_sandboxs_rules(login, world, make_sandbox, settings, tmp_path):
    from sandboxes.reconcile import reconcile

    settings.SIDESTAGE_MANIFEST_DIR = tmp_path
    world.shop.policy.rules.update(action="shared")
    sandbox = make_sandbox(forks=[world.fork("orders"), world.fork("frontend")])
    other = make_sandbox(name="other", forks=[world.fork("frontend")])
    body = html.unescape(login(world.alice).get(_url(sandbox)).content.decode())
    assert "Nothing applied yet" in body
    # The reconciler (render-only: no cluster here) records what it applied; the
    # shared frontend VirtualService then holds both sandboxes' rules.
    reconcile(other.pk, cluster=None)
    reconcile(sandbox.pk, cluster=None)
    body = html.unescape(login(world.alice).get(_url(sandbox)).content.decode())
    yaml_text = body[body.index('id="routes-yaml"') :]
    yaml_text = yaml_text[: yaml_text.index("</code>")]
    assert "kind: HTTPRoute" in yaml_text  # orders is on Gateway API
    assert "kind: VirtualService" in yaml_text  # frontend is on Istio
    assert sandbox.routing_key in yaml_text
    assert other.routing_key not in yaml_text


def test_audit_events_are_listed(login, world, make_sandbox):
    sandbox = make_sandbox()
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert "sandbox.create" in body


def test_pending_approval_is_shown_and_polled(login, world, make_sandbox):
    sandbox = make_sandbox(
        user=world.bob, tenant=world.bob_tenant, profile="prod-like", forks=[world.fork("payments")]
    )
    sandbox.observed_generation = sandbox.generation
    sandbox.conditions = c.set_condition(
        [],
        type_=c.READY,
        status="False",
        reason="AwaitingApproval",
        message="",
        generation=1,
        now=timezone.now(),
    )
    sandbox.save()
    body = login(world.bob).get(_url(sandbox)).content.decode()
    assert "Waiting for a lead" in body
    assert f'hx-get="{reverse("sandbox_status", args=[sandbox.pk])}"' in body
    assert "Review it in the approvals queue" not in body  # bob is a member
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert "Review it in the approvals queue" in body  # alice is a lead, not the requester
    assert "Approve" not in body.replace("Approved", "")  # decisions happen in the queue


def test_extend_and_delete_controls(login, world, make_sandbox):
    sandbox = make_sandbox()
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert f'action="{reverse("sandbox_extend", args=[sandbox.pk])}"' in body
    assert f'href="{reverse("sandbox_delete_confirm", args=[sandbox.pk])}"' in body


def test_a_deleting_sandbox_shows_no_controls(login, world, make_sandbox):
    sandbox = make_sandbox()
    Sandbox.objects.filter(pk=sandbox.pk).update(deletion_requested_at=timezone.now())
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert "Deleting" in body
    assert reverse("sandbox_extend", args=[sandbox.pk]) not in body
    assert reverse("sandbox_delete_confirm", args=[sandbox.pk]) not in body


def test_forks_show_the_live_replica_counts_the_reconciler_read(login, world, make_sandbox):
    sandbox = make_sandbox(forks=[world.fork("frontend", replicas=2)])
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert "2 desired" in body
    fork = sandbox.forks.get()
    fork.status = {
        "replicas": 2,
        "availableReplicas": 1,
        "ready": False,
        "message": "1/2 replicas available.",
    }
    fork.save()
    body = login(world.alice).get(_url(sandbox)).content.decode()
    assert "1/2 available" in body
    assert "1/2 replicas available." in body
