import pytest

from routing.linkerd import dtab_entry, render_dtab
from routing.render import render_service_routes
from tests.routing.factories import ALICE_KEY, TENANT_KEY, baseline, fork


def test_dtab_entry_format():
    assert (
        dtab_entry("orders", f"orders-sbx-{ALICE_KEY}")
        == f"/svc/orders => /svc/orders-sbx-{ALICE_KEY};"
    )


def test_dtab_entry_with_the_catalogs_name_and_destination():
    assert (
        dtab_entry("world", "world-sbx-k", name="/host/world", dst_prefix="/srv")
        == "/host/world => /srv/world-sbx-k;"
    )
    # Without a destination prefix the fork stays under the name's own prefix.
    assert (
        dtab_entry("world", "world-sbx-k", name="/host/world")
        == "/host/world => /host/world-sbx-k;"
    )
    with pytest.raises(ValueError, match="not a dtab path"):
        dtab_entry("world", "world-sbx-k", name="/host/wo rld")


def test_dtab_for_a_sandbox_is_sorted_and_complete():
    dtab = render_dtab(
        [dtab_entry("payments", "payments-sbx-k"), dtab_entry("orders", "orders-sbx-k")]
    )
    assert dtab == "/svc/orders => /svc/orders-sbx-k; /svc/payments => /svc/payments-sbx-k;"
    with pytest.raises(ValueError, match="two forks"):
        render_dtab([dtab_entry("orders", "a"), dtab_entry("orders", "b")])


def test_linkerd1_renders_no_objects_only_dtabs():
    result = render_service_routes(
        baseline(mesh="linkerd1"), [fork(key=ALICE_KEY, tenant_key=TENANT_KEY)]
    )
    assert result.manifests == ()
    entry = f"/svc/orders => /svc/orders-sbx-{ALICE_KEY};"
    assert result.dtabs == {ALICE_KEY: entry, TENANT_KEY: entry}
