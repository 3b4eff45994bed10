"""What the pages say: a rejection is not a wait, a deleted sandbox offers nothing to
copy, an empty dashboard is not an empty filter, unknown filters are said, TTL errors
are in hours and the error summary links to the fields and takes the focus."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox

pytestmark = pytest.mark.browser


def test_the_dashboard_tells_a_rejection_from_a_pending_approval(
    logged_in, bworld, queued_reconciles
):
    waiting = services.sandbox_create(
        actor=bworld.bob,
        tenant=bworld.bob_tenant,
        name="waiting",
        profile="prod-like",
        forks=[{"service": "frontend"}],
    )
    refused = services.sandbox_create(
        actor=bworld.bob,
        tenant=bworld.bob_tenant,
        name="refused",
        profile="prod-like",
        forks=[{"service": "frontend"}],
    )
    services.approval_decide(
        actor=bworld.alice, approval=refused.approvals.get(), approve=False, reason="no"
    )
    page = logged_in("bob")
    page.goto("/")
    expect(page.locator(f"#sandbox-row-{waiting.pk} .ready-cell")).to_have_text("Awaiting approval")
    refused_cell = page.locator(f"#sandbox-row-{refused.pk} .ready-cell")
    expect(refused_cell).to_have_text("Rejected")
    expect(refused_cell).not_to_contain_text("NoCluster")


def test_a_deleted_sandbox_offers_no_copy_buttons(logged_in, bworld, queued_reconciles):
    sandbox = services.sandbox_create(
        actor=bworld.bob, tenant=bworld.bob_tenant, name="gone", forks=[{"service": "frontend"}]
    )
    Sandbox.objects.filter(pk=sandbox.pk).update(
        deletion_requested_at=timezone.now(), deleted_at=timezone.now()
    )
    page = logged_in("bob")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expect(page.locator("main")).to_contain_text("This sandbox was deleted")
    assert page.locator("button.copy").count() == 0


def test_empty_dashboard_and_unknown_filters(logged_in, bworld, queued_reconciles):
    page = logged_in("bob")
    page.goto("/?filter=mine")
    expect(page.get_by_role("heading", name="No sandboxes yet")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Nothing matches this filter")
    page.goto("/?filter=bogus&team=nope")
    expect(page.locator(".messages")).to_contain_text("There is no filter “bogus”")
    expect(page.locator(".messages")).to_contain_text("You are not in a team “nope”")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_ttl_errors_in_hours_and_a_summary_that_links_and_takes_the_focus(
    new_page, bworld, queued_reconciles, javascript
):
    from tests.browser.conftest import log_in

    page = new_page(java_script_enabled=javascript)
    log_in(page, "bob")
    page.goto("/sandboxes/new/")
    page.get_by_label("Name", exact=True).fill("too-long")
    page.locator("#pick-frontend").check()
    page.get_by_label("Time to live (hours)").fill("1000")
    page.get_by_role("button", name="Create sandbox").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    link = summary.get_by_role("link", name="Time to live: Must be at most 168 hours")
    expect(link).to_have_attribute("href", "#id_ttl_hours")
    expect(page.locator("#ttl-errors")).to_contain_text("168 hours")
    expect(page.locator("#create-form")).not_to_contain_text("seconds")
    assert not Sandbox.objects.filter(name="too-long").exists()
    assert timedelta(days=7) == bworld.shop.max_ttl
