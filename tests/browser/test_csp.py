"""Every page works under the Content-Security-Policy, with no violation reported: the
portal's pages (htmx navigation, a form posted through htmx, status polling), the
admin (login, a list, a change form) and the API docs (the vendored ReDoc). Nothing is
loaded from another origin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox
from tests.browser.conftest import assert_not_reloaded, log_in, mark_no_reload

pytestmark = pytest.mark.browser

# Runs before any page script (Playwright injects it outside the page's CSP).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile);
});
"""


class Watch:
    """CSP violations, console errors and requests to other origins, for one page."""

    def __init__(self, page: Any, origin: str) -> None:
        self.page = page
        self.console: list[str] = []
        self.foreign: list[str] = []
        self.missing: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._on_console)
        page.on("request", lambda r: self._on_request(r.url, origin))
        page.on("response", lambda r: r.status == 404 and self.missing.append(r.url))

    def _on_console(self, message: Any) -> None:
        # HTTP errors ("Failed to load resource": the 422 of a form with errors, a
        # missing favicon) are not what this test is about; everything else is.
        text = message.text
        http_error = text.startswith("Failed to load resource")
        if (message.type == "error" and not http_error) or "Content Security Policy" in text:
            self.console.append(text)

    def _on_request(self, url: str, origin: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https") and f"{parsed.scheme}://{parsed.netloc}" != origin:
            self.foreign.append(url)

    def assert_clean(self) -> None:
        violations = self.page.evaluate("window.__csp || []")
        assert violations == [], violations
        assert self.console == [], self.console
        assert self.foreign == [], self.foreign
        # Static files the pages ask for all exist (a browser's favicon guess aside).
        assert [u for u in self.missing if not u.endswith("/favicon.ico")] == []


@pytest.fixture
def watched(new_page, live_server):
    def make() -> tuple[Any, Watch]:
        page = new_page()
        return page, Watch(page, live_server.url.rstrip("/"))

    return make


def test_the_portal_works_under_the_csp(watched, bworld, queued_reconciles):
    services.sandbox_create(
        actor=bworld.bob, tenant=bworld.bob_tenant, name="pr-1", forks=[bworld.fork()]
    )
    page, watch = watched()
    response = page.goto("/accounts/login/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    log_in(page, "bob")
    mark_no_reload(page)

    # htmx navigation (hx-get + hx-push-url) across every page of the top bar.
    for link, path in (
        ("New sandbox", "/sandboxes/new/"),
        ("Approvals", "/approvals/"),
        ("Catalog", "/catalog/"),
        ("Policies", "/policies/"),
        ("Sandboxes", "/"),
    ):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        page.wait_for_url(f"**{path}")
        expect(page.locator("main h1").first).to_be_visible()
    assert_not_reloaded(page)

    # A sandbox page polls its status through htmx.
    page.get_by_role("link", name="pr-1").first.click()
    page.wait_for_url("**/sandboxes/*/")
    with page.expect_response(lambda r: "status" in r.url and r.status == 200):
        pass

    # A form posted through htmx: the create form comes back with inline errors.
    page.goto("/sandboxes/new/")
    mark_no_reload(page)
    page.get_by_label("Name", exact=True).fill("Not A Name")
    page.locator("#pick-orders").check()
    page.get_by_role("button", name="Create sandbox").click()
    expect(page.get_by_text("Must be a DNS-1123 label").first).to_be_visible()
    assert_not_reloaded(page)

    # The pages issue 13 added: tokens (a secret with a copy button), edit, set expiry.
    page.goto("/teams/shop/access/")
    page.locator("#token-name").fill("csp")
    page.get_by_role("button", name="Issue token").click()
    expect(page.locator("#token-secret")).to_be_visible()
    sandbox = Sandbox.objects.get(name="pr-1")
    page.goto(f"/sandboxes/{sandbox.pk}/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit pr-1")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    page.locator("#expiry").get_by_label("Set expiry: expire in").select_option("1")
    page.locator("#expiry").get_by_role("button", name="Set expiry").click()
    expect(page.locator("#expiry")).to_contain_text("This shortens the sandbox")
    watch.assert_clean()


def test_the_api_docs_render_from_the_vendored_redoc(watched):
    page, watch = watched()
    response = page.goto("/api/docs/")
    assert "worker-src 'self' blob:" in response.headers["content-security-policy"]
    # ReDoc fetched the schema and rendered the operations.
    expect(page.get_by_role("heading", name="Sidestage API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/sandboxes").first).to_be_attached()
    watch.assert_clean()


def test_the_admin_works_under_the_csp(watched, bworld):
    from tests.factories import PASSWORD, UserFactory

    UserFactory(username="root", is_staff=True, is_superuser=True)
    page, watch = watched()
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    for path in ("/admin/sandboxes/sandbox/", f"/admin/sandboxes/team/{bworld.shop.pk}/change/"):
        page.goto(path)
        assert page.url.endswith(path)
        expect(page.locator("#content h1, #content h2").first).to_be_visible()
    watch.assert_clean()
