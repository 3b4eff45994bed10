"""When the session ends or a request fails, htmx must not swap a login page or an
error page into a card: an ended session goes to the login page (HX-Redirect), and a
403/404/500 shows a visible message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox

pytestmark = pytest.mark.browser


def _polling_sandbox(bworld) -> Sandbox:
    return services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="polled",
        forks=[{"service": "frontend"}],
    )


def test_an_ended_session_goes_to_the_login_page_not_into_the_status_card(logged_in, bworld):
    sandbox = _polling_sandbox(bworld)
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expect(page.locator("#sandbox-status[data-polling]")).to_be_visible()
    page.context.clear_cookies()  # as when the session expires
    page.wait_for_url(f"**/accounts/login/?next=%2Fsandboxes%2F{sandbox.pk}%2F")
    expect(page.get_by_label("Username")).to_be_visible()
    # The whole page is the login page: no card holds a login form.
    assert page.locator("#sandbox-status").count() == 0


def test_a_404_from_a_poll_shows_a_visible_message(logged_in, bworld):
    sandbox = _polling_sandbox(bworld)
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    status = page.locator("#sandbox-status")
    expect(status).to_be_visible()
    before = status.inner_html()
    Sandbox.objects.filter(pk=sandbox.pk).delete()  # gone, as for another tab's delete
    error = page.locator("#request-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Not found (404)")
    assert status.inner_html() == before  # the card kept its content
