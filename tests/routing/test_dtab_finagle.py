"""The Linkerd 1 dtabs Sidestage hands out, parsed and bound by Finagle itself:
com.twitter:finagle-core_2.13 from Maven Central, driven by tests/support/DtabBind.java
(built and cached by scripts/snippet-tools). A Linkerd 1 router appends the request's
l5d-dtab to its own dtab and rewrites the name its identifier gave the request."""

from __future__ import annotations

import subprocess

import pytest

from routing.linkerd import dtab_entry, linkerd1_host, render_dtab
from tests.support.snippet_tools import cached_tool, system_tool

KEY = "abc0000000000000000x"
# The router dtab of the classic Linkerd 1 hello/world example (namespace hello):
# the identifier names a request /svc/<Host>, and /svc => /host => /srv => k8s.
HELLO_BASE = "/srv => /#/io.l5d.k8s/hello/http; /host => /srv; /svc => /host;"
# The default identifier with the default prefix: /svc/<Host> straight to k8s.
SHOP_BASE = "/svc => /#/io.l5d.k8s/shop/http;"


def bind(base: str, override: str, path: str) -> str:
    finagle = cached_tool("finagle")
    java = system_tool("java")
    done = subprocess.run(
        [java, "-cp", f"{finagle}/lib/*:{finagle}", "DtabBind", base, override, path],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 2), done.stderr
    return done.stdout.strip()


def test_the_seed_example_binds_world_to_world_v2():
    # Guards the harness: Finagle on the seed's own example.
    assert (
        bind(HELLO_BASE, "/host/world => /srv/world-v2;", "/svc/world")
        == "/#/io.l5d.k8s/hello/http/world-v2"
    )
    assert bind(HELLO_BASE, "", "/svc/world") == "/#/io.l5d.k8s/hello/http/world"


def test_a_catalog_name_under_host_reaches_the_fork_only_by_its_host():
    entry = dtab_entry("world", f"world-sbx-{KEY}", name="/host/world", dst_prefix="/srv")
    assert linkerd1_host("world", "/host/world") == "world"
    # Host: world (what every snippet sends for this service) reaches the fork...
    assert bind(HELLO_BASE, entry, "/svc/world") == f"/#/io.l5d.k8s/hello/http/world-sbx-{KEY}"
    # ...while a request named by the FQDN:port is untouched: why the portal's URL for a
    # Linkerd 1 service is http://world/, not the Service's FQDN.
    assert (
        bind(HELLO_BASE, entry, "/svc/world.hello.svc.cluster.local:7778")
        == "/#/io.l5d.k8s/hello/http/world.hello.svc.cluster.local:7778"
    )


def test_the_default_svc_dentry_with_several_forks():
    dtab = render_dtab(
        [dtab_entry("orders", f"orders-sbx-{KEY}"), dtab_entry("payments", f"payments-sbx-{KEY}")]
    )
    assert bind(SHOP_BASE, dtab, "/svc/orders") == f"/#/io.l5d.k8s/shop/http/orders-sbx-{KEY}"
    assert bind(SHOP_BASE, dtab, "/svc/payments") == f"/#/io.l5d.k8s/shop/http/payments-sbx-{KEY}"
    assert bind(SHOP_BASE, dtab, "/svc/cart") == "/#/io.l5d.k8s/shop/http/cart"
    # The old default URL's name is not matched by /svc/orders: the defect fixed here.
    assert (
        bind(SHOP_BASE, dtab, "/svc/orders.shop.svc.cluster.local:8080")
        == "/#/io.l5d.k8s/shop/http/orders.shop.svc.cluster.local:8080"
    )


def test_finagle_rejects_what_is_not_a_dtab():
    out = bind(SHOP_BASE, "/svc/orders => ;", "/svc/orders")
    assert out.startswith("ERROR")
    with pytest.raises(ValueError):
        dtab_entry("orders", "x", name="svc/orders")
