"""Set the expiry (asking first when that shortens the sandbox), then delete behind a
confirmation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox
from tests.browser.conftest import assert_not_reloaded, log_in, mark_no_reload

pytestmark = pytest.mark.browser


def test_set_expiry_then_delete(logged_in, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="short-lived",
        forks=[{"service": "frontend"}],
        ttl_seconds=3600,
    )
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expiry = page.locator("#expiry")
    expect(expiry.locator(".time-left")).to_contain_text("59m")
    mark_no_reload(page)
    expiry.get_by_label("Set expiry: expire in").select_option("72")
    expiry.get_by_role("button", name="Set expiry").click()
    expect(expiry.locator(".time-left")).to_contain_text("2d 23h")
    expect(page.locator("#expiry")).to_be_focused()  # the focus stays on the card
    assert_not_reloaded(page)
    sandbox.refresh_from_db()
    assert sandbox.expires_at - timezone.now() > timedelta(hours=71)

    page.get_by_role("link", name="Delete sandbox…").click()
    confirm = page.get_by_role("button", name="Yes, delete short-lived")
    expect(confirm).to_be_visible()
    expect(confirm).to_be_focused()
    assert_not_reloaded(page)
    confirm.click()
    page.wait_for_url("**/")
    expect(page.locator(".messages")).to_contain_text("short-lived is being deleted")
    assert Sandbox.objects.get(pk=sandbox.pk).is_deleting


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_an_earlier_expiry_asks_first(new_page, bworld, javascript):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="long-lived",
        forks=[{"service": "frontend"}],
        ttl_seconds=72 * 3600,
    )
    before = sandbox.expires_at
    page = new_page(java_script_enabled=javascript)
    log_in(page, "alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expiry = page.locator("#expiry")
    expiry.get_by_label("Set expiry: expire in").select_option("1")
    expiry.get_by_role("button", name="Set expiry").click()
    confirm = page.locator("#expiry").get_by_role("button", name="Yes, expire in 1 hour")
    expect(confirm).to_be_visible()
    expect(page.locator("#expiry")).to_contain_text("This shortens the sandbox")
    if javascript:
        expect(confirm).to_be_focused()
    sandbox.refresh_from_db()
    assert sandbox.expires_at == before  # nothing changed yet
    page.locator("#expiry").get_by_role("link", name="Keep the current expiry").click()
    expect(page.locator("#expiry .time-left")).to_contain_text("2d 23h")
    sandbox.refresh_from_db()
    assert sandbox.expires_at == before

    expiry = page.locator("#expiry")
    expiry.get_by_label("Set expiry: expire in").select_option("1")
    expiry.get_by_role("button", name="Set expiry").click()
    page.locator("#expiry").get_by_role("button", name="Yes, expire in 1 hour").click()
    expect(page.locator("#expiry .time-left")).to_contain_text("59m")
    sandbox.refresh_from_db()
    assert sandbox.expires_at - timezone.now() < timedelta(hours=1, minutes=1)


def test_an_expired_sandbox_says_expired_not_expired_left(logged_in, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="gone-by",
        forks=[{"service": "frontend"}],
    )
    Sandbox.objects.filter(pk=sandbox.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expect(page.locator("#expiry")).to_contain_text("Expired")
    expect(page.locator("#expiry")).not_to_contain_text("expired left")
