"""A team's activity page: its audit log only, filtered, paged, and exported as CSV
with the same filters."""

from __future__ import annotations

import csv
import io

from django.urls import reverse
from django.utils import timezone

from sandboxes import services


def test_activity_filters_and_csv(login, world, make_sandbox):
    sandbox = make_sandbox(name="pr-7")
    services.sandbox_extend(actor=world.bob, sandbox=sandbox, ttl_seconds=3600)
    make_sandbox(
        user=world.charlie,
        tenant=world.charlie_tenant,
        name="secret-search",
        forks=[world.fork("indexer", image="")],
    )
    client = login(world.alice)
    url = reverse("team_activity", args=["shop"])
    body = client.get(url).content.decode()
    assert "sandbox.create" in body and "sandbox.extend" in body
    assert "secret-search" not in body  # another team's log
    only_bob = client.get(url, {"actor": "bob"}).content.decode()
    assert "sandbox.extend" in only_bob and "sandbox.create</code>" not in only_bob
    today = timezone.now().strftime("%Y-%m-%d")
    assert "sandbox.extend" in client.get(url, {"since": today}).content.decode()
    future = client.get(url, {"since": "2999-01-01"}).content.decode()
    assert "No events match these filters" in future
    bad = client.get(url, {"since": "yesterday"}).content.decode()
    assert "is not a date" in bad

    response = client.get(url, {"verb": "sandbox.extend", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["time_utc", "actor", "verb", "target", "sandbox", "data"]
    assert [(r[1], r[2], r[4]) for r in rows[1:]] == [("bob", "sandbox.extend", "pr-7")]

    assert client.get(reverse("team_activity", args=["search"])).status_code == 404
