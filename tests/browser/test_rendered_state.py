"""`make run` without a cluster: a sandbox whose manifests were rendered shows as
"Rendered" with its file and objects, not as a red "Not ready / NoCluster"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sandboxes import services
from sandboxes.models import Sandbox
from sandboxes.reconcile import reconcile

pytestmark = pytest.mark.browser


def test_a_rendered_sandbox_is_rendered_not_failed(logged_in, bworld, settings, tmp_path):
    settings.SIDESTAGE_MANIFEST_DIR = tmp_path
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="offline",
        forks=[{"service": "payments", "image": "ghcr.io/acme/payments:pr-3"}],
    )
    assert reconcile(sandbox.pk, cluster=None).status == "render-only"
    page = logged_in("alice")
    page.goto("/")
    cell = page.locator(f"#sandbox-row-{sandbox.pk} .ready-cell")
    expect(cell).to_have_text("Rendered")
    expect(cell).not_to_contain_text("Not ready")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    rendered = page.locator("#rendered")
    expect(rendered).to_contain_text("nothing is deployed")
    expect(rendered).to_contain_text(str(tmp_path))
    expect(rendered).to_contain_text("Deployment")
    expect(rendered).to_contain_text("VirtualService")
    assert not Sandbox.objects.get(pk=sandbox.pk).in_progress  # no endless polling
