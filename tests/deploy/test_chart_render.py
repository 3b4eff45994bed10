"""The chart, rendered by the real Helm: lint, default and full values, the security
settings every pod must have, exactly one beat, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandboxes.cluster_permissions import rbac_rules
from tests.deploy.helm import CHART, FULL_VALUES, Helm, by_kind, one

POD_KINDS = ("Deployment", "Job")


def _pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    return [
        (o["metadata"]["name"], o["spec"]["template"]["spec"])
        for o in objects
        if o["kind"] in POD_KINDS
    ]


@pytest.mark.parametrize("values", [[], [FULL_VALUES]], ids=["defaults", "full"])
def test_lint_strict(helm: Helm, values: list[Path]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for path in values:
        args += ["--values", str(path)]
    out = helm.run(*args).stdout
    assert "0 chart(s) failed" in out


def test_default_render(helm: Helm) -> None:
    objects = helm.template()
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Deployment",
            "Deployment",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "PodDisruptionBudget",
            "Service",
            "Service",
            "ServiceAccount",
        ]
    )
    web = one(objects, "Deployment", "-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["gunicorn", "portal.wsgi"]
    assert "gthread" in container["command"]
    env = {e["name"]: e for e in container["env"]}
    assert env["WEB_CONCURRENCY"]["value"] == "2"
    assert env["GUNICORN_THREADS"]["value"] == "8"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Secrets come only from existing Secrets, by reference.
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SIDESTAGE_METRICS_TOKEN"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
        assert "value" not in env[name]
    assert env["SIDESTAGE_CLUSTER"]["value"] == "in-cluster"
    assert "SIDESTAGE_NAMESPACES" not in env
    # Only the workers call the Kubernetes API; only they get the account's token.
    for name, pod in _pod_specs(objects):
        assert pod["automountServiceAccountToken"] is name.endswith("-worker"), name
    # The pod IP is allowed, so probes and scrapes by IP pass Django's host check.
    assert env["ALLOWED_HOSTS"]["value"].startswith("$(POD_IP),")


def test_every_pod_is_locked_down(helm: Helm) -> None:
    for values in ([], [FULL_VALUES]):
        for name, pod in _pod_specs(helm.template(values=values)):
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
            mounts_by_volume = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in mounts_by_volume["tmp"], name
            for container in pod["containers"]:
                sc = container["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False, name
                assert sc["readOnlyRootFilesystem"] is True, name
                assert sc["capabilities"] == {"drop": ["ALL"]}, name
                assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
                assert {"/tmp", "/var/lib/sidestage"} <= {
                    m["mountPath"] for m in container["volumeMounts"]
                }, name
                assert container["resources"]["requests"], name
                assert container["resources"]["limits"]["memory"], name


def test_beat_is_single_and_recreated(helm: Helm) -> None:
    for values in ([], [FULL_VALUES]):
        beat = one(helm.template(values=values), "Deployment", "-beat")
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
    # Not even a --set can scale it: the schema has no such value.
    bad = helm.run("template", "sbx", str(CHART), "--set", "beat.replicas=2", check=False)
    assert bad.returncode != 0
    assert "beat" in bad.stderr and "replicas" in bad.stderr


def test_migrations_run_as_a_pre_upgrade_hook(helm: Helm) -> None:
    job = one(helm.template(), "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert pod["automountServiceAccountToken"] is False


def test_full_values_render_everything(helm: Helm) -> None:
    objects = helm.template(values=[FULL_VALUES])
    kinds = {o["kind"] for o in objects}
    assert {"Ingress", "HTTPRoute", "ServiceMonitor", "Role", "RoleBinding"} <= kinds
    roles = by_kind(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    for role in roles:
        assert role["rules"] == rbac_rules(namespaced=True)
    # The only cluster-wide grant in namespaced mode: reading the allowed namespaces'
    # labels (catalog discovery), limited to them by name.
    (cluster_role,) = by_kind(objects, "ClusterRole")
    assert cluster_role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["shop", "payments"],
            "verbs": ["get"],
        }
    ]
    worker = one(objects, "Deployment", "-worker")
    assert worker["spec"]["replicas"] == 4
    env = {e["name"]: e for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SIDESTAGE_NAMESPACES"]["value"] == "shop,payments"
    assert env["SIDESTAGE_API_THROTTLE"]["value"] == "1200/min"
    route = one(objects, "HTTPRoute")
    assert route["spec"]["parentRefs"][0]["name"] == "shared-gateway"
    assert one(objects, "ServiceMonitor")["spec"]["endpoints"][0]["bearerTokenSecret"] == {
        "name": "sidestage-metrics-token",
        "key": "bearer",
    }


def test_cluster_scope_rules_are_the_codes_list(helm: Helm) -> None:
    role = one(helm.template(), "ClusterRole")
    assert role["rules"] == rbac_rules()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["web.replicas=-1"], "/web/replicas"),
        (["web.threads=0"], "/web/threads': minimum: got 0, want 1"),
        (["cluster.mode=kubeconfig"], "/cluster/mode"),
        (["rbac.scope=everything"], "/rbac/scope"),
        (["rbac.scope=namespaced"], "/rbac/namespaces"),
        (["securityContext.readOnlyRootFilesystem=false"], "readOnlyRootFilesystem"),
        (["podSecurityContext.runAsNonRoot=false"], "runAsNonRoot"),
        (["database.urlSecret.name=Not_A_Name"], "/database/urlSecret/name"),
        (["webb.replicas=3"], "additional properties 'webb' not allowed"),
        (["metrics.serviceMonitor.interval=soon"], "interval"),
        (["httpRoute.enabled=true"], "parentRefs"),
    ],
)
def test_bad_values_fail_with_a_clear_message(helm: Helm, sets: list[str], message: str) -> None:
    args = ["template", "sbx", str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = helm.run(*args, check=False)
    assert result.returncode != 0, f"{sets} rendered"
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
