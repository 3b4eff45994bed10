"""The UI and the API say where each entry came from, when it was last seen and what
was detected; hand-made entries still work; retired entries are not offered."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from sandboxes.models import AuditEvent, BaselineDrift, CatalogSource
from tests import factories

DETECTION = {
    "mesh": "istio",
    "dataplane": "istio-sidecar",
    "evidence": ["namespace label istio-injection=enabled", "Gateway API HTTPRoute served"],
    "problems": [],
}


@pytest.fixture
def discovered(world):
    return factories.BaselineServiceFactory(
        name="basket",
        namespace="shop",
        source=CatalogSource.CLUSTER,
        last_seen_at=timezone.now(),
        detection=DETECTION,
        drift=BaselineDrift.CHANGED,
        drift_message="ports 8080 -> 9090",
        drift_since=timezone.now(),
        backstage_ref="component:default/basket",
        entry_path="/basket",
    )


def test_the_catalog_page_shows_source_last_seen_and_evidence(client, world, discovered):
    client.force_login(world.bob)
    body = client.get(reverse("catalog")).content.decode()
    section = body[body.index('id="cat-basket"') :]
    section = section[: section.index("</section>")]
    assert "Discovered in the cluster" in section
    assert "namespace label istio-injection=enabled" in section
    assert "component:default/basket" in section
    assert "ports 8080 -&gt; 9090" in section and "Baseline changed" in section
    assert "<code>/basket</code>" in section
    orders = body[body.index('id="cat-orders"') :]
    assert "Hand-made" in orders[: orders.index("</section>")]


def test_the_api_shows_source_detection_and_drift(world, discovered):
    api = APIClient()
    api.force_authenticate(world.bob)
    found = api.get("/api/v1/services/basket").json()
    assert found["source"] == "cluster"
    assert found["detection"]["evidence"] == DETECTION["evidence"]
    assert found["drift"]["state"] == "changed"
    assert found["backstageRef"] == "component:default/basket"
    assert found["lastSeenAt"] and found["retiredAt"] is None
    manual = api.get("/api/v1/services/orders").json()
    assert (manual["source"], manual["detection"], manual["drift"]["state"]) == (
        "manual",
        None,
        "",
    )


def test_retired_entries_are_not_offered_for_new_sandboxes(client, world, discovered):
    discovered.retired_at = timezone.now()
    discovered.save()
    client.force_login(world.alice)
    body = client.get(reverse("sandbox_create")).content.decode()
    assert 'value="basket"' not in body
    assert 'value="orders"' in body  # hand-made entries still work
    catalog = client.get(reverse("catalog")).content.decode()
    assert "no new forks" in catalog


def test_audit_events_without_a_team_are_allowed(world):
    event = AuditEvent.objects.create(team=None, verb="catalog.discovered", target="service/x")
    assert event.team is None
