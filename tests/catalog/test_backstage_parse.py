"""Backstage catalog-info.yaml parsing, on files shaped like real ones."""

from __future__ import annotations

import textwrap

import pytest

from sandboxes.catalog.backstage import (
    BackstageFileError,
    owner_group,
    parse_catalog_file,
    parse_sources,
)

MULTI = textwrap.dedent(
    """\
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: orders
      description: Takes and tracks orders.
      annotations:
        backstage.io/kubernetes-id: orders
        backstage.io/kubernetes-namespace: shop
        github.com/project-slug: acme/orders
      tags: [python]
    spec:
      type: service
      lifecycle: production
      owner: group:default/shop
      system: storefront
      providesApis: [orders-api]
    ---
    apiVersion: backstage.io/v1alpha1
    kind: API
    metadata:
      name: orders-api
    spec:
      type: openapi
      lifecycle: production
      owner: shop
      definition: "openapi: 3.0.0"
    ---
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: orders-web
      namespace: storefront
      annotations:
        backstage.io/kubernetes-id: orders-web
    spec:
      type: website
      lifecycle: production
      owner: shop
    ---
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: payments
      namespace: money
      annotations:
        backstage.io/kubernetes-id: payments-api
    spec:
      type: service
      lifecycle: experimental
      owner: user:default/alice
    """
)


def test_a_multi_document_file_yields_its_service_components():
    parsed = parse_catalog_file(MULTI, "repo/catalog-info.yaml")
    assert [c.ref for c in parsed.components] == [
        "component:default/orders",
        "component:money/payments",
    ]
    orders, payments = parsed.components
    assert (orders.kubernetes_id, orders.kubernetes_namespace, orders.owner_group) == (
        "orders",
        "shop",
        "shop",
    )
    assert orders.description == "Takes and tracks orders."
    assert (payments.kubernetes_id, payments.kubernetes_namespace, payments.owner_group) == (
        "payments-api",
        "",
        "",
    )
    assert any("API orders-api" in n for n in parsed.notes)
    assert any("orders-web" in n and "website" in n for n in parsed.notes)


@pytest.mark.parametrize(
    ("owner", "group"),
    [
        ("group:default/shop", "shop"),
        ("group:shop", "shop"),
        ("shop", "shop"),
        ("user:default/alice", ""),
        ("user:alice", ""),
    ],
)
def test_owner_groups(owner, group):
    assert owner_group(owner) == group


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Component\nmetadata: {name: x\n", "not valid YAML at line"),
        ("- just\n- a list\n", "document 1 is not a mapping"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", "apiVersion must be backstage.io"),
        ("apiVersion: backstage.io/v1alpha1\nmetadata: {name: x}\n", "kind is missing"),
        (
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}\n",
            "metadata.name is missing",
        ),
        (
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n"
            "spec: {type: service, lifecycle: production}\n",
            "document 1 (Component x): spec.owner is required",
        ),
        (
            MULTI + "---\napiVersion: backstage.io/v1alpha1\nkind: Component\n"
            "metadata: {name: broken}\nspec: {type: service, owner: shop}\n",
            "document 5 (Component broken): spec.lifecycle is required",
        ),
    ],
)
def test_an_invalid_file_names_its_problem(text, message):
    with pytest.raises(BackstageFileError) as caught:
        parse_catalog_file(text, "bad.yaml")
    assert caught.value.source == "bad.yaml"
    assert message in caught.value.message


def test_sources_read_folders_and_report_every_bad_file(tmp_path):
    good = tmp_path / "orders" / "catalog-info.yaml"
    good.parent.mkdir()
    good.write_text(MULTI)
    bad = tmp_path / "broken" / "catalog-info.yaml"
    bad.parent.mkdir()
    bad.write_text("apiVersion: [unclosed\n")
    (tmp_path / "notes.yaml").write_text("not: a catalog file\n")  # not named catalog-info
    parsed, errors = parse_sources([str(tmp_path), str(tmp_path / "missing.yaml")])
    assert [p.source for p in parsed] == [str(good)]
    assert sorted(e.source for e in errors) == sorted([str(bad), str(tmp_path / "missing.yaml")])
    assert any("cannot be read" in e.message for e in errors)
