"""Backstage import: linked to workloads the cluster really has, owner groups mapped
to teams, and all or nothing per run (one bad file: nothing imported)."""

from __future__ import annotations

import http.server
import textwrap
import threading
from collections.abc import Iterator

import pytest

from sandboxes.catalog import services
from sandboxes.catalog.runner import run_catalog_sync
from sandboxes.models import AuditEvent, BaselineService, CatalogSource

pytestmark = pytest.mark.cluster

FORKABLE = {"sidestage.dev/forkable": "true"}


def component(
    name: str,
    kubernetes_id: str,
    *,
    namespace: str = "",
    owner: str = "group:shop",
    description: str = "",
) -> str:
    ns_line = f"\n    backstage.io/kubernetes-namespace: {namespace}" if namespace else ""
    return (
        textwrap.dedent(
            f"""\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
          description: {description or name + " service"}
          annotations:
            backstage.io/kubernetes-id: {kubernetes_id}"""
        )
        + ns_line
        + textwrap.dedent(
            f"""
        spec:
          type: service
          lifecycle: production
          owner: {owner}
        """
        )
    )


@pytest.fixture
def served(tmp_path) -> Iterator[str]:
    """A loopback HTTP server for catalog files, as a Git host would serve them."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_components_link_to_workloads_and_teams(world, discovery_world, tmp_path, served):
    dw = discovery_world
    ns = dw.namespace("bs", labels={"istio-injection": "enabled"})
    dw.workload("basket", ns, annotations=FORKABLE)  # discovered and described
    dw.workload("ledger", ns)  # only Backstage knows it
    repo = tmp_path / "basket"
    repo.mkdir()
    (repo / "catalog-info.yaml").write_text(
        component("basket", "basket", namespace=ns, description="Baskets, from Backstage")
        + "---\n"
        + component("ghost", "ghost", namespace=ns)  # no such workload
    )
    (tmp_path / "ledger.yaml").write_text(
        component("ledger", "ledger", owner="group:default/search", description="The ledger")
    )
    run = run_catalog_sync(
        dw.restricted,
        namespaces=[ns],
        backstage_sources=[str(tmp_path / "basket"), f"{served}/ledger.yaml"],
    )
    assert run.backstage is not None
    basket = BaselineService.objects.get(namespace=ns, deployment="basket")
    assert (basket.source, basket.backstage_ref, basket.owner_team) == (
        CatalogSource.CLUSTER,
        "component:default/basket",
        world.shop,
    )
    # The annotation's (empty) description is the cluster's; Backstage fills the gap.
    assert basket.description == "Baskets, from Backstage"
    ledger = BaselineService.objects.get(namespace=ns, deployment="ledger")
    assert (ledger.source, ledger.owner_team, ledger.mesh) == (
        CatalogSource.BACKSTAGE,
        world.search,
        "istio",
    )
    assert ledger.ports == [8080]
    assert any("component:default/ghost" in line for line in run.backstage.unmatched)
    assert AuditEvent.objects.filter(verb="catalog.imported").count() == 2
    assert AuditEvent.objects.get(verb="catalog.imported", target="service/ledger").team == (
        world.search
    )
    # A Backstage entry is not retired for lacking the annotation, and annotating it
    # later makes the cluster its source.
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    ledger.refresh_from_db()
    assert ledger.retired_at is None
    basket.refresh_from_db()
    assert basket.description == "Baskets, from Backstage"
    dw.workload("ledger", ns, annotations=FORKABLE)
    run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=[])
    ledger.refresh_from_db()
    assert (ledger.source, ledger.backstage_ref) == (
        CatalogSource.CLUSTER,
        "component:default/ledger",
    )


def test_one_invalid_file_imports_nothing(world, discovery_world, tmp_path):
    dw = discovery_world
    ns = dw.namespace("bad", labels={"istio-injection": "enabled"})
    dw.workload("basket", ns)
    dw.workload("ledger", ns)
    (tmp_path / "good.yaml").write_text(component("basket", "basket", namespace=ns))
    (tmp_path / "bad.yaml").write_text(
        component("ledger", "ledger", namespace=ns) + "---\nkind: Component\nmetadata: [\n"
    )
    (tmp_path / "worse.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    sources = [str(tmp_path / n) for n in ("good.yaml", "bad.yaml", "worse.yaml")]
    with pytest.raises(services.BackstageImportFailed) as caught:
        run_catalog_sync(dw.restricted, namespaces=[ns], backstage_sources=sources)
    assert sorted(caught.value.fields) == sorted(sources[1:])
    assert "not valid YAML at line" in caught.value.fields[sources[1]][0]
    assert "apiVersion must be backstage.io" in caught.value.fields[sources[2]][0]
    assert caught.value.message == "2 invalid file(s); nothing was imported."
    assert not BaselineService.objects.filter(namespace=ns).exists()
    assert not AuditEvent.objects.filter(verb="catalog.imported").exists()
