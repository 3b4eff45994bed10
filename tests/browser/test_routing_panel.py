"""The Routing panel in a real browser, under the CSP, against a real Prometheus: it
loads on demand through htmx, names the hop that dropped the key, and refreshes with
another window without reloading the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from routing.names import fork_object_name
from sandboxes import services
from tests import factories
from tests.browser.conftest import assert_not_reloaded, log_in, mark_no_reload
from tests.browser.test_csp import watched  # noqa: F401 - the fixture
from tests.fixtures.prometheus import Call

pytestmark = pytest.mark.browser


def test_the_panel_names_the_hop_that_dropped_the_key(
    watched,  # noqa: F811
    bworld,
    queued_reconciles,
    prometheus,
    settings,
):
    settings.SIDESTAGE_PROMETHEUS_URL = prometheus.url
    baselines = [factories.BaselineServiceFactory(namespace="shop") for _ in range(3)]
    web, cart, pay = (b.name for b in baselines)
    sandbox = services.sandbox_create(
        actor=bworld.alice,
        tenant=bworld.alice_tenant,
        name="chain",
        forks=[{"service": b.name, "image": "ghcr.io/acme/app:1"} for b in baselines],
    )
    web_f, cart_f = (fork_object_name(n, sandbox.routing_key) for n in (web, cart))
    prometheus.feed(
        [
            Call("istio-system", "istio-ingressgateway", "shop", web, 10),
            Call("shop", web, "shop", cart, 10),
            Call("shop", cart, "shop", pay, 10),
            Call("istio-system", "istio-ingressgateway", "shop", web_f, 3),
            Call("shop", web_f, "shop", cart_f, 3),
            Call("shop", cart_f, "shop", pay, 3),
        ]
    )
    page, watch = watched()
    log_in(page, "alice")
    page.goto(f"/sandboxes/{sandbox.pk}/")
    mark_no_reload(page)
    page.get_by_role("link", name="Check routing").click()
    finding = page.locator("#routing .finding-error")
    expect(finding).to_contain_text(f"{cart} dropped the routing key")
    expect(page.locator(f'#routing [data-hop="{cart}-{pay}"]')).to_contain_text("dropped")
    page.locator("#routing-window").select_option("5m")
    with page.expect_response(lambda r: "window=5m" in r.url and r.status == 200):
        page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#routing-window")).to_have_value("5m")
    expect(page.locator("#routing .finding-error")).to_contain_text(f"{cart} dropped")
    assert_not_reloaded(page)
    watch.assert_clean()
