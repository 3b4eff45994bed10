"""Extend the TTL, then delete behind a confirmation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox
from tests.browser.conftest import assert_not_reloaded, mark_no_reload

pytestmark = pytest.mark.browser


def test_extend_then_delete(logged_in, bworld):
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
    expiry.get_by_label("Extend: expire in").select_option("72")
    expiry.get_by_role("button", name="Extend").click()
    expect(expiry.locator(".time-left")).to_contain_text("2d 23h")
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
