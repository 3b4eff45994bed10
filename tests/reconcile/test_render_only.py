"""With no cluster configured, the reconciler writes what it would apply under
var/manifests/ and says plainly that nothing is deployed."""

from __future__ import annotations

import yaml
from django.core.management import call_command

from sandboxes import services
from sandboxes.reconcile import manifest_dir, reconcile


def test_render_only_writes_manifests_and_never_claims_ready(world, settings, tmp_path):
    settings.SIDESTAGE_MANIFEST_DIR = tmp_path
    sandbox = services.sandbox_create(
        actor=world.alice,
        tenant=world.alice_tenant,
        name="offline",
        forks=[{"service": "payments", "image": "ghcr.io/acme/payments:pr-3"}],
    )
    assert reconcile(sandbox.pk, cluster=None).status == "render-only"
    sandbox.refresh_from_db()
    ready = next(c for c in sandbox.conditions if c["type"] == "Ready")
    # The manifests are the product of render-only mode: "Rendered", not a failure.
    assert (ready["status"], ready["reason"]) == ("False", "Rendered")
    assert sandbox.observed_generation == sandbox.generation
    path = manifest_dir(sandbox) / "manifests.yaml"
    text = path.read_text()
    assert text.startswith("# Render-only mode")
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "VirtualService"]
    image = docs[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/acme/payments:pr-3"

    services.sandbox_delete(actor=world.alice, sandbox=sandbox)
    assert reconcile(sandbox.pk, cluster=None).status == "deleted"
    assert not path.exists()


def test_render_routes_prints_the_routes_of_one_service(world, capsys):
    a = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="a", forks=[{"service": "payments"}]
    )
    call_command("render_routes", "payments")
    out = capsys.readouterr().out
    docs = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in docs] == ["VirtualService"]
    assert docs[0]["spec"]["http"][0]["name"] == f"sbx-{a.routing_key}"
    call_command("render_routes", "frontend")
    assert "nothing to apply" in capsys.readouterr().out


def test_the_record_people_read_masks_every_value_they_did_not_set():
    from sandboxes.owned_objects import redact_for_sandbox

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web-sbx-k", "labels": {"sidestage.dev/sandbox": "k" * 20}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "env": [{"name": "LOG_LEVEL", "value": "debug"}]},
                        # A sidecar's baseline value under a name the fork also overrides.
                        {"name": "proxy", "env": [{"name": "LOG_LEVEL", "value": "token=s3cret"}]},
                    ]
                }
            }
        },
    }
    shown = {("LOG_LEVEL", "debug")}
    record = redact_for_sandbox(deployment, "k" * 20, shown)
    web, proxy = record["spec"]["template"]["spec"]["containers"]
    assert web["env"][0]["value"] == "debug"
    assert proxy["env"][0]["value"].startswith("<redacted")
    # Another sandbox's objects are not shown at all.
    assert redact_for_sandbox(deployment, "z" * 20, shown) is None
