"""The dashboard's countdown moves without a reload, and search works with htmx (no
reload) and without JavaScript (a plain GET form)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox
from tests.browser.conftest import assert_not_reloaded, log_in, mark_no_reload

pytestmark = pytest.mark.browser


def test_the_countdown_updates_without_a_reload(new_page, bworld):
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="ticking",
        forks=[{"service": "frontend"}],
    )
    Sandbox.objects.filter(pk=sandbox.pk).update(
        expires_at=timezone.now() + timedelta(minutes=10, seconds=30)
    )
    page = new_page()
    page.clock.install()
    log_in(page, "alice")
    page.goto("/")
    countdown = page.locator(f"#sandbox-row-{sandbox.pk} .countdown")
    expect(countdown).to_have_text("10m")
    expect(page.locator(f"#sandbox-row-{sandbox.pk}")).to_contain_text("expiring soon")
    mark_no_reload(page)
    page.clock.run_for(3 * 60 * 1000)
    expect(countdown).to_have_text("7m")
    assert_not_reloaded(page)


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_search_by_name(new_page, bworld, javascript):
    for name in ("alpha", "beta"):
        services.sandbox_create(
            actor=bworld.alice,
            tenant=bworld.alice_tenant,
            name=name,
            forks=[{"service": "frontend"}],
        )
    page = new_page(java_script_enabled=javascript)
    log_in(page, "alice")
    page.get_by_role("searchbox", name="Name").fill("alp")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=alp*")
    table = page.locator("table.sandboxes")
    expect(table).to_contain_text("alpha")
    expect(table).not_to_contain_text("beta")
