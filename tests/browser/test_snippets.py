"""The copy buttons really write to the clipboard."""

from __future__ import annotations

import json

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


def test_copied_postman_collection_is_runnable_and_notes_sit_beside_snippets(logged_in, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="postman-me",
        forks=[{"service": "frontend", "image": "ghcr.io/acme/frontend:1"}],
    )
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    page.locator("details.more summary").click()
    page.locator('[data-copy-target="snippet-postman"]').click()
    collection = json.loads(page.evaluate("navigator.clipboard.readText()"))
    # A string URL: what Newman runs (tests/routing/test_snippets.py runs it).
    assert collection["item"][0]["request"]["url"] == (
        "http://frontend.shop.svc.cluster.local:8080/"
    )
    expect(page.locator("#snippet-note-httpie")).to_contain_text("second baggage header")
    # The reconciler has not resolved the container ports: a reason, not a config.
    expect(page.locator("#snippet-unavailable-mirrord-frontend")).to_contain_text(
        "container ports are unknown"
    )
    expect(page.locator('[data-copy-target="snippet-mirrord-frontend"]')).to_have_count(0)
