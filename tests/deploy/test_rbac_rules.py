"""One source of truth: the chart's RBAC rules are generated from the reconciler's
permission list, and that list covers exactly the kinds Sidestage manages."""

from __future__ import annotations

from django.core.management import call_command

from sandboxes.cluster_permissions import (
    RECONCILER_PERMISSIONS,
    RULES_TEMPLATE,
    managed_kinds,
    rbac_rules,
    render_rules_template,
)


def test_the_charts_rules_file_is_generated_from_the_code() -> None:
    assert RULES_TEMPLATE.read_text() == render_rules_template(), (
        "run `manage.py rbac_rules --write` and commit the chart"
    )
    call_command("rbac_rules", "--check")


def test_every_managed_kind_has_a_permission_and_nothing_more() -> None:
    declared = {(p.api_group, p.kind) for p in RECONCILER_PERMISSIONS}
    assert declared == managed_kinds()


def test_no_secrets_no_wildcards_no_escalation() -> None:
    for rule in rbac_rules():
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field]
        assert not {"secrets", "pods", "configmaps"} & set(rule["resources"])
        assert set(rule["verbs"]) <= {"get", "list", "create", "patch", "delete"}
        assert not {"escalate", "bind", "impersonate", "update", "watch"} & set(rule["verbs"])
        if "namespaces" in rule["resources"]:
            # Catalog discovery reads namespace labels; nothing more.
            assert rule["resources"] == ["namespaces"] and rule["verbs"] == ["get"]


def test_discovery_permissions_are_in_the_charts_rules() -> None:
    from sandboxes.catalog.discovery import DISCOVERY_PERMISSIONS

    granted = {
        (rule["apiGroups"][0], resource, verb)
        for rule in rbac_rules()
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for group, resource, verbs in DISCOVERY_PERMISSIONS:
        for verb in verbs:
            assert (group, resource, verb) in granted
    namespaced = {r for rule in rbac_rules(namespaced=True) for r in rule["resources"]}
    assert "namespaces" not in namespaced
