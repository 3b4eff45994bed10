"""The copy buttons really write to the clipboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from routing.snippets import curl_snippet
from sandboxes import services

pytestmark = pytest.mark.browser


def test_copy_the_curl_snippet(logged_in, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="copy-me",
        forks=[{"service": "frontend", "image": "ghcr.io/acme/frontend:1"}],
    )
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    button = page.locator('[data-copy-target="snippet-curl"]')
    button.click()
    expect(button).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    expected = curl_snippet(sandbox.routing_key, "http://frontend.shop.svc.cluster.local:8080/")
    assert copied == expected
    assert sandbox.routing_key in copied
    expect(button).to_have_text("Copy", timeout=5_000)

    # The routing key on its own, too.
    page.locator('[data-copy-target="routing-key"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == sandbox.routing_key
