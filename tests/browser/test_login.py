"""Log in and out through the real form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_log_in_see_the_empty_dashboard_and_log_out(new_page, bworld):
    page = new_page()
    page.goto("/")
    page.wait_for_url("**/accounts/login/?next=/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")

    log_in(page, "alice")
    expect(page.get_by_role("heading", name="No sandboxes yet")).to_be_visible()
    expect(page.get_by_role("link", name="Create your first sandbox")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    page.goto("/")
    page.wait_for_url("**/accounts/login/?next=/")
