"""A lead creates a CI tenant and a token in the UI, sees the secret once with a copy
button, sees its last use, and revokes it; the token works against the real API until
then. A member cannot create a CI tenant."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes.models import ApiToken, AuditEvent, Tenant, TenantKind

pytestmark = pytest.mark.browser


def test_a_lead_creates_a_ci_tenant_and_a_token_then_revokes_it(logged_in, bworld):
    page = logged_in("alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tokens").click()
    page.wait_for_url("**/teams/shop/access/")

    page.locator("#tenant-name").fill("ci")
    page.get_by_label("Kind").select_option("ci")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.locator(".messages")).to_contain_text("Tenant ci created.")
    tenant = Tenant.objects.get(team=bworld.shop, name="ci")
    assert tenant.kind == TenantKind.CI
    assert len(tenant.tenant_key) >= 16

    page.locator("#token-name").fill("github-actions")
    page.get_by_label("For tenant").select_option(str(tenant.pk))
    page.get_by_role("button", name="Issue token").click()
    secret_box = page.locator("#token-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("sst_")
    page.locator("#issued").get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    token = ApiToken.objects.get(name="github-actions")
    assert token.tenant_id == tenant.pk and token.matches(secret)

    api = page.context.request
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/sandboxes", headers=headers).status == 200
    page.goto("/teams/shop/access/")
    row = page.locator(f"#token-{token.pk}")
    expect(row).not_to_contain_text("never")  # its last use is shown
    expect(page.locator("#token-secret")).to_have_count(0)  # shown once only

    row.get_by_role("button", name="Revoke github-actions").click()
    expect(page.locator(".messages")).to_contain_text("Token github-actions revoked")
    expect(page.locator(f"#token-{token.pk}")).to_contain_text("Revoked")
    assert api.get("/api/v1/sandboxes", headers=headers).status == 401
    verbs = set(AuditEvent.objects.filter(team=bworld.shop).values_list("verb", flat=True))
    assert {"tenant.create", "token.issue", "token.revoke"} <= verbs


def test_a_member_cannot_create_a_ci_tenant(logged_in, bworld):
    page = logged_in("bob")
    page.goto("/teams/shop/access/")
    page.locator("#tenant-name").fill("bob-ci")
    page.get_by_label("Kind").select_option("ci")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.locator("main")).to_contain_text("Only a lead can create tenants")
    assert not Tenant.objects.filter(name="bob-ci").exists()
    assert page.goto("/teams/search/access/").status == 404  # another team's page
