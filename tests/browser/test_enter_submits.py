"""Enter in the create form creates the sandbox; it never removes an env row (the
form's first submit button used to be a row's "Remove"), with or without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes.models import Sandbox
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_enter_in_a_field_creates_the_sandbox(new_page, bworld, queued_reconciles, javascript):
    page = new_page(java_script_enabled=javascript)
    log_in(page, "bob")
    page.goto("/sandboxes/new/")
    page.locator("#pick-frontend").check()
    name = page.get_by_label("Name", exact=True)
    name.fill("enter-key")
    env_name = page.locator('input[name="frontend-env-name"]').first
    env_name.fill("LOG_LEVEL")
    page.locator('input[name="frontend-env-value"]').first.fill("debug")
    name.press("Enter")
    page.wait_for_url("**/sandboxes/*/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("enter-key")
    sandbox = Sandbox.objects.get(name="enter-key")
    assert sandbox.forks.get().env == [{"name": "LOG_LEVEL", "value": "debug"}]
