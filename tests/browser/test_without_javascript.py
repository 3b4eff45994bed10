"""The main navigation works without JavaScript, and pages fit a narrow window."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes import services
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_navigation_without_javascript(new_page, bworld):
    page = new_page(java_script_enabled=False)
    log_in(page, "alice")
    for link, heading in (
        ("New sandbox", "New sandbox"),
        ("Approvals", "Approvals"),
        ("Catalog", "Catalog"),
        ("Policies", "Data-isolation policies"),
        ("Sandboxes", "Sandboxes"),
    ):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def test_pages_fit_a_narrow_window(logged_in, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="narrow",
        forks=[{"service": "orders", "image": "ghcr.io/acme/orders:1"}, {"service": "frontend"}],
    )
    page = logged_in("alice", viewport={"width": 400, "height": 800})
    for url in ("/", "/sandboxes/new/", f"/sandboxes/{sandbox.pk}/", "/approvals/"):
        page.goto(url)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at 400px wide"
