"""Create a sandbox with two forks, see inline errors without a reload, and watch its
status change through htmx polling while the test acts as the reconciler."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sandboxes import conditions as c
from sandboxes.models import Sandbox
from tests.browser.conftest import assert_not_reloaded, mark_no_reload

pytestmark = pytest.mark.browser


def _reconcile_as_ready(sandbox: Sandbox) -> None:
    """What the reconciler would write once everything is up."""
    now = timezone.now()
    conds = sandbox.conditions
    for type_, reason in (
        (c.WORKLOADS_READY, "AllReplicasReady"),
        (c.ROUTES_PROGRAMMED, "RoutesAccepted"),
        (c.READY, "Ready"),
    ):
        conds = c.set_condition(
            conds,
            type_=type_,
            status="True",
            reason=reason,
            message="",
            generation=sandbox.generation,
            now=now,
        )
    Sandbox.objects.filter(pk=sandbox.pk).update(
        conditions=conds, observed_generation=sandbox.generation
    )


def test_create_two_forks_fix_an_error_inline_then_watch_it_become_ready(
    logged_in, bworld, queued_reconciles
):
    page = logged_in("bob")
    page.get_by_role("link", name="New sandbox").first.click()
    page.wait_for_url("**/sandboxes/new/")
    mark_no_reload(page)

    page.get_by_label("Name", exact=True).fill("pr-77")
    page.locator("#pick-orders").check()
    page.locator("#pick-frontend").check()
    # The policy preview is visible for the chosen service.
    orders = page.locator("#svc-orders")
    expect(orders).to_contain_text("orders-db")
    expect(orders).to_contain_text("isolated-schema")

    page.get_by_label("Image (empty: the baseline's)").first.fill("ghcr.io/acme/frontend:pr-77")
    page.locator("#orders-image").fill("evil.example/orders:pr-77")
    # Add an env row through htmx and fill it; the new row gets the focus.
    orders.get_by_role("button", name="Add variable").click()
    expect(orders.locator(".env-row")).to_have_count(2)
    expect(orders.locator(".env-row").nth(1).locator("input").first).to_be_focused()
    page.keyboard.type("FEATURE_X")
    page.keyboard.press("Tab")
    page.keyboard.type("on")
    # ...and remove the first, empty one.
    orders.locator(".env-row").first.get_by_role("button", name="Remove this variable").click()
    expect(orders.locator(".env-row")).to_have_count(1)

    page.get_by_role("button", name="Create sandbox").click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#orders-image-errors")).to_contain_text("Registry not allowed")
    assert_not_reloaded(page)
    assert not Sandbox.objects.exists()

    page.locator("#orders-image").fill("ghcr.io/acme/orders:pr-77")
    page.get_by_role("button", name="Create sandbox").click()
    page.wait_for_url(re.compile(r".*/sandboxes/\d+/$"))
    sandbox = Sandbox.objects.get(name="pr-77")
    assert sorted(f.baseline.name for f in sandbox.forks.all()) == ["frontend", "orders"]
    assert sandbox.forks.get(baseline__name="orders").env == [{"name": "FEATURE_X", "value": "on"}]
    assert queued_reconciles == [sandbox.pk]

    status = page.locator("#sandbox-status")
    expect(status).to_contain_text("Reconciling")
    expect(status).to_have_attribute("data-polling", "true")
    mark_no_reload(page)

    _reconcile_as_ready(sandbox)
    expect(status.locator(".ready-line")).to_contain_text("Ready", timeout=15_000)
    expect(status.locator('[data-condition="RoutesProgrammed"]')).to_contain_text("RoutesAccepted")
    expect(status).not_to_have_attribute("data-polling", "true")
    assert_not_reloaded(page)

    # The dashboard shows it too, with both forks.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sandboxes").click()
    row = page.locator(f"#sandbox-row-{sandbox.pk}")
    expect(row).to_contain_text("orders")
    expect(row).to_contain_text("frontend")
    expect(row).to_contain_text("Ready")


def test_dashboard_row_updates_live(logged_in, bworld):
    from sandboxes import services

    sandbox = services.sandbox_create(
        actor=bworld.alice, tenant=bworld.alice_tenant, name="live", forks=[{"service": "frontend"}]
    )
    page = logged_in("alice")
    row = page.locator(f"#sandbox-row-{sandbox.pk}")
    expect(row).to_contain_text("Reconciling")
    mark_no_reload(page)
    _reconcile_as_ready(sandbox)
    expect(row).to_contain_text("Ready", timeout=15_000)
    expect(page.locator("#sandbox-list")).not_to_have_attribute("data-polling", "true")
    assert_not_reloaded(page)
