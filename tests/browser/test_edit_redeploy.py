"""A rejected request can be fixed: edit the sandbox (image, env, replicas, forks) and
redeploy, which bumps the generation and asks for a new approval; the page shows the
decision history and who can approve. Duplicate-as-new starts from the same spec."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import ApprovalState, Membership, Sandbox
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def _rejected(bworld) -> Sandbox:
    sandbox = services.sandbox_create(
        actor=bworld.bob,
        tenant=bworld.bob_tenant,
        name="prodish",
        profile="prod-like",
        forks=[{"service": "frontend", "image": "ghcr.io/acme/frontend:bad"}],
    )
    approval = sandbox.approvals.get()
    services.approval_decide(
        actor=bworld.alice, approval=approval, approve=False, reason="wrong image"
    )
    return Sandbox.objects.get(pk=sandbox.pk)


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_a_rejected_request_is_fixed_by_editing_and_redeploying(
    new_page, bworld, queued_reconciles, javascript
):
    sandbox = _rejected(bworld)
    page = new_page(java_script_enabled=javascript)
    log_in(page, "bob")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expect(page.locator("#approval-state")).to_contain_text("Rejected by alice")
    history = page.locator("table.decisions")
    expect(history).to_contain_text("rejected by alice")
    expect(history).to_contain_text("wrong image")

    page.locator("#approval-state").get_by_role("link", name="Edit the sandbox").click()
    page.wait_for_url(f"**/sandboxes/{sandbox.pk}/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit prodish")
    page.locator("#frontend-image").fill("ghcr.io/acme/frontend:good")
    page.locator("#frontend-replicas").fill("2")
    page.locator('input[name="frontend-env-name"]').first.fill("MODE")
    page.locator('input[name="frontend-env-value"]').first.fill("fixed")
    page.locator("#pick-payments").check()
    page.get_by_label("Note for the approving lead").fill("image fixed")
    page.get_by_role("button", name="Save and redeploy").click()
    page.wait_for_url(f"**/sandboxes/{sandbox.pk}/")

    sandbox.refresh_from_db()
    assert sandbox.generation == 2
    forks = {f.baseline.name: f for f in sandbox.forks.select_related("baseline")}
    assert set(forks) == {"frontend", "payments"}
    assert forks["frontend"].image == "ghcr.io/acme/frontend:good"
    assert forks["frontend"].replicas == 2
    assert forks["frontend"].env == [{"name": "MODE", "value": "fixed"}]
    pending = sandbox.approvals.get(generation=2)
    assert pending.state == ApprovalState.PENDING
    assert pending.request_note == "image fixed"
    expect(page.locator("#approval-state")).to_contain_text("Waiting for a lead's approval")
    # bob (a member) wrote both generations: alice and dana may decide.
    expect(page.locator("#approval-state")).to_contain_text("Who can approve: alice, dana")


def test_a_request_no_lead_may_approve_says_so(logged_in, bworld, queued_reconciles):
    Membership.objects.filter(team=bworld.shop, user=bworld.dana).delete()  # one lead left
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="lonely",
        profile="prod-like",
        forks=[{"service": "frontend"}],
    )
    page = logged_in("alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    expect(page.locator("#approval-state")).to_contain_text("No one can approve this request")


def test_duplicate_as_new_starts_from_the_same_spec(logged_in, bworld, queued_reconciles):
    source = services.sandbox_create(
        actor=bworld.bob,
        tenant=bworld.bob_tenant,
        name="original",
        forks=[
            {
                "service": "frontend",
                "image": "ghcr.io/acme/frontend:7",
                "env": [{"name": "A", "value": "1"}],
            }
        ],
    )
    page = logged_in("bob")
    page.goto(f"/sandboxes/{source.pk}/")
    page.get_by_role("link", name="Duplicate as new").click()
    expect(page.locator("#pick-frontend")).to_be_checked()
    expect(page.locator("#frontend-image")).to_have_value("ghcr.io/acme/frontend:7")
    page.get_by_label("Name", exact=True).fill("copy")
    page.get_by_role("button", name="Create sandbox").click()
    page.wait_for_url("**/sandboxes/*/")
    copy = Sandbox.objects.get(name="copy")
    fork = copy.forks.get()
    assert (fork.image, fork.env) == ("ghcr.io/acme/frontend:7", [{"name": "A", "value": "1"}])
