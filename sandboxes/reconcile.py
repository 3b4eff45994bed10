"""The reconciler: turns one sandbox's desired state into fork workloads and mesh routes.

Level-triggered and idempotent, fed only ids. Each run locks the sandbox row, reads
the desired state from PostgreSQL and the live state from the cluster, closes the
gap, and writes conditions and `observed_generation`. It never trusts an event.

Order is make-before-break: the fork's Deployment and Service go in before the route
that uses them; on the way down the route comes out first, then the workloads, then
the data. A live object that already holds what we want is not applied again, so a
no-op resync makes no mutating API call.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import prefetch_related_objects
from django.utils import timezone

from routing.linkerd import render_dtab
from routing.meshes import RouteRenderError, get_mesh
from routing.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE, SANDBOX_LABEL, SERVICE_LABEL
from routing.ports import UnresolvedPorts, resolve_target_ports
from routing.render import manifests_to_yaml
from sandboxes import conditions as c
from sandboxes.budget import Deadline, deadline_scope, doing
from sandboxes.catalog.drift import BASELINE_CURRENT, baseline_condition
from sandboxes.cluster import Cluster, ClusterError, cluster_from_settings
from sandboxes.data_isolation import (
    DataIsolationError,
    Provision,
    deprovision,
    literal_env,
    plan_fork_data,
    provision,
)
from sandboxes.metrics import observe_reconcile
from sandboxes.models import (
    ApprovalState,
    BaselineService,
    Fork,
    Mesh,
    Profile,
    Sandbox,
)
from sandboxes.owned_objects import (
    WORKLOAD_KINDS,
    is_owned,
    is_subset,
    is_workload,
    object_key,
    owned_selector,
    redact_for_sandbox,
)
from sandboxes.policies import plan_data_isolation
from sandboxes.routes import render_routes_for
from sandboxes.workloads import (
    ROUTING_KEY_ENV,
    SANDBOX_ENV,
    ForkWorkloadSpec,
    deployment_readiness,
    render_fork_deployment,
    render_fork_service,
)

log = logging.getLogger(__name__)

# Forks rolling out (or objects going away) are polled with a short, growing countdown:
# 0.2 s, 0.4 s, 0.8 s, 1.6 s, then every 3 s (SIDESTAGE_READINESS_POLL_MS and _MAX_MS).
# A fork that is ready at once (KWOK, a warm image) is seen within a fraction of a
# second, a slow one costs a poll every 3 s at most (the old fixed countdown), and no
# worker ever sleeps on it.
READINESS_FIRST_POLL_SECONDS = 0.2


def readiness_poll_seconds(polls: int) -> float:
    """The countdown before readiness poll number `polls + 1` (polls done so far)."""
    first = settings.SIDESTAGE_READINESS_POLL_MS / 1000
    last = settings.SIDESTAGE_READINESS_POLL_MAX_MS / 1000
    return round(min(first * 2 ** min(max(polls, 0), 16), last), 3)


@dataclass
class Outcome:
    status: str
    requeue_after: float | None = None
    # A readiness poll: the task sets the countdown from how many polls came before.
    poll: bool = False
    # A ClusterError or DataIsolationError with transient=True: the task retries.
    transient: ClusterError | DataIsolationError | None = None


class SandboxReconciler:
    """One run for one locked sandbox row."""

    def __init__(self, sandbox: Sandbox, cluster: Cluster | None, now: datetime) -> None:
        self.sandbox = sandbox
        self.cluster = cluster
        self.now = now
        self.conditions = list(sandbox.conditions or [])
        self.forks: list[Fork] = list(
            sandbox.forks.select_related("baseline").prefetch_related("baseline__data_resources")
        )
        team = sandbox.tenant.team
        if team.policy is not None:
            prefetch_related_objects([team.policy], "rules")
        # The policy's decision for each fork's data, planned once per run.
        self.data_plans = {
            fork.pk: plan_data_isolation(team, fork.baseline, sandbox.profile)
            for fork in self.forks
        }
        # None: leave the record as it is (a failed run does not know what is live).
        self.applied: list[dict] | None = None
        # Per fork: the container ports its baseline Service forwards to (mirrord's
        # http_filter.ports), or why they cannot be resolved. Read from the live
        # baseline objects in desired_workloads, recorded in Fork.status.
        self.container_ports: dict[int, dict] = {}

    # --- conditions ----------------------------------------------------------------------
    def set(self, type_: str, status: str, reason: str, message: str) -> None:
        self.conditions = c.set_condition(
            self.conditions,
            type_=type_,
            status=status,
            reason=reason,
            message=message,
            generation=self.sandbox.generation,
            now=self.now,
        )

    def condition(self, type_: str) -> dict | None:
        return next((x for x in self.conditions if x["type"] == type_), None)

    def _not_ready(self, reason: str, message: str) -> None:
        self.set(c.READY, "False", reason, message)

    # --- gates ------------------------------------------------------------------------------
    def approval_gate(self) -> bool:
        if self.sandbox.profile != Profile.PROD_LIKE:
            self.conditions = [x for x in self.conditions if x["type"] != c.APPROVED]
            return True
        current = (
            self.sandbox.approvals.filter(generation=self.sandbox.generation)
            .exclude(state=ApprovalState.SUPERSEDED)
            .order_by("-requested_at", "-id")
            .first()
        )
        if current is None or current.state == ApprovalState.PENDING:
            self.set(
                c.APPROVED,
                "False",
                "AwaitingApproval",
                "A lead of the team must approve this prod-like sandbox.",
            )
            return False
        if current.state == ApprovalState.REJECTED:
            self.set(
                c.APPROVED,
                "False",
                "ApprovalRejected",
                f"Rejected by {current.decided_by}: {current.reason}",
            )
            return False
        if not current.is_valid(self.now):
            self.set(
                c.APPROVED,
                "False",
                "ApprovalExpired",
                f"The approval expired at {current.expires_at:%Y-%m-%d %H:%M} UTC; "
                "request a new one.",
            )
            return False
        self.set(
            c.APPROVED,
            "True",
            "Approved",
            f"Approved by {current.decided_by} until {current.expires_at:%Y-%m-%d %H:%M} "
            f"UTC: {current.reason}",
        )
        return True

    def policy_gate(self) -> bool:
        problems = [
            plan.problem for plans in self.data_plans.values() for plan in plans if plan.problem
        ]
        if problems:
            self.set(c.POLICY_SATISFIED, "False", "PolicyDenied", " ".join(problems))
            return False
        self.set(
            c.POLICY_SATISFIED,
            "True",
            "PolicySatisfied",
            "Every data resource has an allowed isolation.",
        )
        return True

    # --- desired state ---------------------------------------------------------------------
    def fork_spec(self, fork: Fork, data_env: dict[str, str]) -> ForkWorkloadSpec:
        return ForkWorkloadSpec(
            service=fork.baseline.name,
            namespace=fork.baseline.namespace,
            deployment=fork.baseline.deployment,
            sandbox_name=self.sandbox.name,
            routing_key=self.sandbox.routing_key,
            image=fork.image,
            env=tuple((e["name"], e.get("value", "")) for e in fork.env or []),
            replicas=fork.replicas,
            data_env=tuple(sorted(data_env.items())),
            generation=self.sandbox.generation,
        )

    def desired_workloads(self) -> tuple[list[dict], list[Provision]]:
        """Read each baseline, plan its data, and render the fork Deployment and Service."""
        assert self.cluster is not None
        objects: list[dict] = []
        provisions: list[Provision] = []
        for fork in self.forks:
            base = fork.baseline
            deployment = self.cluster.get("apps/v1", "Deployment", base.deployment, base.namespace)
            if deployment is None:
                raise ClusterError(
                    "BaselineNotFound",
                    f"Baseline Deployment {base.namespace}/{base.deployment} of {base.name} "
                    "does not exist; fix the catalog entry or deploy the baseline.",
                    transient=False,
                )
            service = self.cluster.get("v1", "Service", base.service, base.namespace)
            try:
                resolved = {"containerPorts": resolve_target_ports(service, deployment)}
            except UnresolvedPorts as exc:
                resolved = {"containerPortsError": str(exc)}
            self.container_ports[fork.pk] = resolved
            data_env, needs = plan_fork_data(
                self.data_plans[fork.pk],
                literal_env(deployment),
                self.sandbox.routing_key,
            )
            provisions.extend(needs)
            spec = self.fork_spec(fork, data_env)
            objects.append(
                render_fork_deployment(
                    spec, baseline_deployment=deployment, baseline_service=service
                )
            )
            objects.append(
                render_fork_service(spec, baseline_service=service, catalog_ports=base.ports)
            )
        return objects, provisions

    # --- cluster I/O ----------------------------------------------------------------------
    def live_owned(self) -> dict[tuple[str, str, str], dict]:
        """This sandbox's own objects, found by label (workloads and HTTPRoutes)."""
        assert self.cluster is not None
        kinds = set(WORKLOAD_KINDS)
        for fork in self.forks:
            kinds.update(get_mesh(fork.baseline.mesh).sandbox_kinds)
        live: dict[tuple[str, str, str], dict] = {}
        for api_version, kind in sorted(kinds):
            for obj in self.cluster.list(
                api_version,
                kind,
                label_selector=owned_selector(**{SANDBOX_LABEL: self.sandbox.routing_key}),
            ):
                live[object_key(obj)] = obj
        return live

    def sync(self, desired: list[dict], live: dict[tuple[str, str, str], dict]) -> None:
        """Apply what differs, in the given order. An object we do not own yet is read
        by name first: a foreign object that happens to have our name is refused, never
        taken over by a forced apply."""
        assert self.cluster is not None
        for obj in desired:
            key = object_key(obj)
            current = live.get(key)
            if current is None:
                meta = obj["metadata"]
                current = self.cluster.get(
                    obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", "")
                )
                if current is not None and not is_owned(current):
                    raise ClusterError(
                        "NameTaken",
                        f"{obj['kind']} {meta.get('namespace')}/{meta['name']} already exists "
                        "and is not managed by Sidestage; Sidestage will not take it over. "
                        "Rename or remove it.",
                        transient=False,
                    )
            if current is None or not is_subset(obj, current):
                live[key] = self.cluster.apply(obj)

    def delete_objects(self, objects: list[dict]) -> None:
        assert self.cluster is not None
        for obj in objects:
            meta = obj["metadata"]
            self.cluster.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    def touched_services(self, live: dict[tuple[str, str, str], dict]) -> list[BaselineService]:
        """Services whose shared routes may change: the ones forked now, and the ones
        this sandbox's live objects say it forked before."""
        names = {f.baseline.name for f in self.forks}
        for obj in live.values():
            service = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_LABEL)
            if service:
                names.add(service)
        # Lock the catalog rows in id order: two reconciles of one service render its
        # shared routes one after the other, each from committed state. NO KEY UPDATE:
        # a create inserting a Fork of this service (its foreign-key check takes KEY
        # SHARE) must not wait for this whole run (docs/architecture.md, "Locking").
        return list(
            BaselineService.objects.select_for_update(no_key=True)
            .filter(name__in=names)
            .order_by("pk")
        )

    def sync_service_routes(self, baseline: BaselineService) -> tuple[list[dict], list[str]]:
        """Re-render one service's routes from all its routable forks; apply what
        differs and delete what is no longer wanted. Returns (manifests, warnings)."""
        assert self.cluster is not None
        mesh = get_mesh(baseline.mesh)
        kinds = mesh.kinds
        live: dict[tuple[str, str, str], dict] = {}
        foreign_vs: list[dict] = []
        for api_version, kind in kinds:
            for obj in self.cluster.list(
                api_version,
                kind,
                label_selector=owned_selector(**{SERVICE_LABEL: baseline.name}),
                namespace=baseline.namespace,
            ):
                live[object_key(obj)] = obj
            if (api_version, kind) in mesh.foreign_host_kinds:
                # Another owner's VirtualService for the host would shadow ours, or ours
                # theirs: in any namespace (a FQDN host reaches across), whoever manages
                # it (`!=` also matches objects without the label, e.g. Helm's have one).
                foreign_vs += self.cluster.list(
                    api_version,
                    kind,
                    label_selector=f"{MANAGED_BY_LABEL}!={MANAGED_BY_VALUE}",
                )
        rendered = render_routes_for(baseline, foreign=foreign_vs)
        desired = list(rendered.manifests)
        self.sync(desired, live)
        wanted = {object_key(o) for o in desired}
        self.delete_objects([o for k, o in sorted(live.items()) if k not in wanted][::-1])
        # A conflict names the sandboxes of one tenant: only that tenant hears of it.
        own_key = self.sandbox.tenant.tenant_key
        return desired, [c.message for c in rendered.conflicts if c.tenant_key == own_key]

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> Outcome:
        if self.sandbox.is_deleting:
            return self.delete()
        approved = self.approval_gate()
        policy_ok = self.policy_gate()
        # A baseline the catalog saw change or vanish: said up front (sandboxes/catalog/).
        drift = baseline_condition(fork.baseline for fork in self.forks)
        if drift:
            self.set(BASELINE_CURRENT, "False", *drift)
        else:
            self.conditions = [x for x in self.conditions if x["type"] != BASELINE_CURRENT]
        # Routable is decided from the row: persist the gates before rendering routes.
        self.flush_conditions()
        if self.cluster is None:
            return self.render_only(approved and policy_ok)
        try:
            if not (approved and policy_ok):
                return self.take_down(approved)
            return self.deploy()
        except ClusterError as exc:
            return self.cluster_failed(exc)
        except DataIsolationError as exc:
            if exc.transient:
                self._not_ready(exc.reason, f"{exc.message}; retrying.")
                return Outcome("retry", transient=exc)
            self.set(c.POLICY_SATISFIED, "False", exc.reason, exc.message)
            self._not_ready(exc.reason, exc.message)
            return Outcome("failed")

    def record_applied(self, manifests: list[dict]) -> None:
        # Shown as is: exactly the (name, value) pairs people set themselves, and ours.
        shown = {
            (SANDBOX_ENV, self.sandbox.name),
            (ROUTING_KEY_ENV, self.sandbox.routing_key),
        }
        for fork in self.forks:
            shown.update((e["name"], e.get("value", "")) for e in fork.env or [])
        self.applied = [
            m
            for m in (redact_for_sandbox(x, self.sandbox.routing_key, shown) for x in manifests)
            if m is not None
        ]

    def flush_conditions(self) -> None:
        if self.conditions != self.sandbox.conditions:
            self.sandbox.conditions = self.conditions
            self.sandbox.save(update_fields=["conditions"])

    def deploy(self) -> Outcome:
        live = self.live_owned()
        workloads, provisions = self.desired_workloads()
        # Only what the record does not hold yet: a no-op resync opens no admin
        # connection (deletion drops exactly what is recorded).
        recorded = {tuple(sorted(p.items())) for p in self.sandbox.provisioned_data or []}
        for item in provisions:
            if tuple(sorted(item.as_dict().items())) not in recorded:
                doing(f"provisioning {item.kind} {item.name}")
                provision(item)
        self.record_provisions(provisions)
        self.sync(workloads, live)
        # Records each fork's Deployment in Fork.status: only then may routes reach it.
        ready, messages = self.observe_workloads(workloads, live)
        route_manifests: list[dict] = []
        warnings: list[str] = []
        try:
            for baseline in self.touched_services(live):
                manifests, notes = self.sync_service_routes(baseline)
                route_manifests.extend(manifests)
                warnings.extend(notes)
        except RouteRenderError as exc:
            reason = exc.reason
            self.set(c.ROUTES_PROGRAMMED, "False", reason, str(exc))
            self._not_ready(reason, str(exc))
            return Outcome("failed")
        # Objects of this sandbox that are no longer wanted (a fork removed): routes
        # were re-rendered above, so taking the workloads away now breaks nothing.
        wanted = {object_key(o) for o in workloads}
        self.delete_objects(
            [o for k, o in sorted(live.items()) if k not in wanted and is_workload(o)]
        )

        self.record_applied(workloads + route_manifests)
        dtabs = self.linkerd1_dtabs()
        routes_message = "Routes for every fork are applied."
        if dtabs:
            routes_message += f" Linkerd 1 clients send l5d-dtab: {dtabs}"
        if warnings:
            routes_message += " " + " ".join(warnings)
        self.set(c.ROUTES_PROGRAMMED, "True", "RoutesApplied", routes_message)
        if ready:
            self.set(c.WORKLOADS_READY, "True", "Available", " ".join(messages))
            self.set(
                c.READY,
                "True",
                "Ready",
                f"Requests carrying routing key {self.sandbox.routing_key} reach the forks.",
            )
            return Outcome("ready")
        message = " ".join(messages)
        reason = (
            "ProgressDeadlineExceeded" if "ProgressDeadlineExceeded" in message else "Progressing"
        )
        self.set(c.WORKLOADS_READY, "False", reason, message)
        self._not_ready(reason, "Waiting for the forks to become available.")
        if reason == "ProgressDeadlineExceeded":
            return Outcome("failed")
        return Outcome("progressing", requeue_after=READINESS_FIRST_POLL_SECONDS, poll=True)

    def observe_workloads(self, workloads: list[dict], live: dict) -> tuple[bool, list[str]]:
        by_service = {f.baseline.name: f for f in self.forks}
        all_ready, messages = True, []
        for obj in workloads:
            if obj["kind"] != "Deployment":
                continue
            service = obj["metadata"]["labels"][SERVICE_LABEL]
            fork = by_service[service]
            ready, message, counts = deployment_readiness(live.get(object_key(obj)), fork.replicas)
            # A Deployment applied in this run has not been rolled out by anyone yet.
            all_ready &= ready
            messages.append(f"{service}: {message}")
            status = {
                **counts,
                "ready": ready,
                "message": message,
                "deployment": obj["metadata"]["name"],
                **self.container_ports.get(fork.pk, {}),
            }
            if fork.status != status:
                fork.status = status
                fork.save(update_fields=["status"])
        return all_ready, messages

    def linkerd1_dtabs(self) -> str:
        """The same l5d-dtab value the snippets carry (the catalog's Linkerd 1 names)."""
        entries = [
            f.baseline.linkerd1_dentry(self.fork_spec(f, {}).name)
            for f in self.forks
            if f.baseline.mesh == Mesh.LINKERD1
        ]
        return render_dtab(entries) if entries else ""

    def take_down(self, approved: bool) -> Outcome:
        """Deploy nothing (awaiting approval, rejected, expired, or policy denied): routes
        first, then workloads. While it waits for an approval its data stays; once the
        policy refuses the isolation, the data the sandbox holds comes down too (the
        policy no longer allows the copy to exist)."""
        live = self.live_owned()
        for baseline in self.touched_services(live):
            self.sync_service_routes(baseline)
        self.delete_objects(sorted((o for o in live.values() if is_workload(o)), key=object_key))
        if approved and self.sandbox.provisioned_data:
            for item in self.sandbox.provisioned_data:
                doing(f"dropping {item['kind']} {item['name']}")
                deprovision(Provision.from_dict(item))
            self.sandbox.provisioned_data = []
            self.sandbox.save(update_fields=["provisioned_data"])
        gate = self.condition(c.APPROVED) if not approved else None
        reason_text = gate["reason"] if gate else "PolicyDenied"
        message = (
            gate["message"]
            if gate
            else "The data-isolation policy refuses this sandbox; nothing is deployed."
        )
        self.set(c.WORKLOADS_READY, "False", reason_text, "Nothing is deployed.")
        self.set(c.ROUTES_PROGRAMMED, "False", reason_text, "No routes are programmed.")
        self._not_ready(reason_text, message)
        for fork in self.forks:
            if fork.status:
                fork.status = {}
                fork.save(update_fields=["status"])
        self.applied = []
        return Outcome("blocked")

    def cluster_failed(self, exc: ClusterError) -> Outcome:
        if exc.transient:
            self._not_ready(
                "ClusterUnreachable", f"The Kubernetes API is unreachable; retrying. {exc.message}"
            )
            return Outcome("retry", transient=exc)
        self._not_ready(exc.reason, exc.message)
        if exc.reason == "BaselineNotFound":
            self.set(c.WORKLOADS_READY, "False", exc.reason, exc.message)
        return Outcome("failed")

    def record_provisions(self, provisions: list[Provision]) -> None:
        known = {tuple(sorted(p.items())) for p in self.sandbox.provisioned_data or []}
        merged = list(self.sandbox.provisioned_data or [])
        for item in provisions:
            if tuple(sorted(item.as_dict().items())) not in known:
                merged.append(item.as_dict())
        if merged != self.sandbox.provisioned_data:
            self.sandbox.provisioned_data = merged
            self.sandbox.save(update_fields=["provisioned_data"])

    # --- deletion -------------------------------------------------------------------------------
    def delete(self) -> Outcome:
        """Routes first, then workloads, then data. Idempotent all the way."""
        if self.cluster is not None:
            try:
                live = self.live_owned()
                for baseline in self.touched_services(live):
                    self.sync_service_routes(baseline)
                self.delete_objects(
                    sorted((o for o in live.values() if is_workload(o)), key=object_key)
                )
                if self.live_owned():
                    self.set(c.DELETED, "False", "Deleting", "Waiting for objects to go away.")
                    return Outcome(
                        "deleting", requeue_after=READINESS_FIRST_POLL_SECONDS, poll=True
                    )
            except ClusterError as exc:
                return self.cluster_failed(exc)
        else:
            shutil.rmtree(manifest_dir(self.sandbox), ignore_errors=True)
        try:
            for item in self.sandbox.provisioned_data or []:
                doing(f"dropping {item['kind']} {item['name']}")
                deprovision(Provision.from_dict(item))
        except DataIsolationError as exc:
            self.set(c.DELETED, "False", exc.reason, exc.message)
            if exc.transient:
                return Outcome("retry", transient=exc)
            return Outcome("failed", requeue_after=60)
        self.sandbox.provisioned_data = []
        self.sandbox.deleted_at = self.now
        self.applied = []
        for fork in self.forks:
            if fork.status:
                fork.status = {}
                fork.save(update_fields=["status"])
        self.set(c.DELETED, "True", "Deleted", "Routes, workloads and data are gone.")
        self.set(c.WORKLOADS_READY, "False", "Deleted", "The forks were deleted.")
        self.set(c.ROUTES_PROGRAMMED, "False", "Deleted", "The routes were removed.")
        self.set(c.READY, "False", "Deleted", "The sandbox was deleted.")
        return Outcome("deleted")

    # --- render-only ----------------------------------------------------------------------------
    def render_only(self, allowed: bool) -> Outcome:
        """No cluster: write what would be applied under var/manifests/<sandbox>/ and say
        plainly that nothing is deployed."""
        target = manifest_dir(self.sandbox)
        shutil.rmtree(target, ignore_errors=True)
        manifests: list[dict] = []
        if allowed:
            for fork in self.forks:
                spec = self.fork_spec(fork, {})
                placeholder = {
                    "spec": {
                        "template": {
                            "metadata": {"labels": {"app": fork.baseline.deployment}},
                            "spec": {"containers": []},
                        }
                    }
                }
                manifests.append(
                    render_fork_deployment(
                        spec, baseline_deployment=placeholder, baseline_service=None
                    )
                )
                manifests.append(
                    render_fork_service(
                        spec, baseline_service=None, catalog_ports=fork.baseline.ports
                    )
                )
            for fork in self.forks:
                manifests.extend(render_routes_for(fork.baseline, require_deployed=False).manifests)
            target.mkdir(parents=True, exist_ok=True)
            header = (
                "# Render-only mode (SIDESTAGE_CLUSTER=none): nothing was applied.\n"
                "# The fork's pod template is copied from the live baseline Deployment at\n"
                "# apply time; here only Sidestage's overrides are shown.\n"
            )
            (target / "manifests.yaml").write_text(header + manifests_to_yaml(manifests))
        self.record_applied(manifests)
        message = (
            f"No cluster is configured; the manifests are in {target}/."
            if allowed
            else "No cluster is configured, and nothing may be deployed."
        )
        # Rendered manifests are render-only mode's product, not a failure: a reason of
        # its own, which `wait` treats as done (sandboxes.api.wait.judge).
        reason = c.RENDERED if allowed else "NoCluster"
        self.set(c.WORKLOADS_READY, "False", reason, message)
        self.set(c.ROUTES_PROGRAMMED, "False", reason, message)
        self._not_ready(reason, message)
        return Outcome("render-only")

    # --- persistence ----------------------------------------------------------------------------
    def save(self) -> None:
        sandbox = self.sandbox
        fields = []
        if self.conditions != sandbox.conditions:
            sandbox.conditions = self.conditions
            fields.append("conditions")
        if sandbox.observed_generation != sandbox.generation:
            sandbox.observed_generation = sandbox.generation
            fields.append("observed_generation")
        if self.applied is not None and self.applied != sandbox.applied_manifests:
            sandbox.applied_manifests = self.applied
            fields.append("applied_manifests")
        if sandbox.deleted_at and "deleted_at" not in fields:
            fields += ["deleted_at", "provisioned_data"]
        if fields:
            sandbox.save(update_fields=sorted(set(fields)))


def manifest_dir(sandbox: Sandbox) -> Path:
    return (
        Path(settings.SIDESTAGE_MANIFEST_DIR)
        / f"{sandbox.tenant.team.slug}-{sandbox.tenant.name}-{sandbox.name}"
    )


_UNSET: Any = object()
# A reconcile that meets a transient database error (a lost connection, a server
# restart, "database is locked", a serialization failure or deadlock) is retried in
# place this many times before the task layer retries it with backoff.
DB_ATTEMPTS = 3
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


def _reset_broken_connections() -> None:
    """Drop connections that a database error left unusable (Django checks with
    CONN_HEALTH_CHECKS), so the next query opens a fresh one."""
    if not connection.in_atomic_block:
        close_old_connections()


def _limit_lock_waits(deadline: Deadline | None) -> None:
    """On PostgreSQL, a row lock held by a hung run is not waited for beyond this
    run's own budget: the wait ends in a transient error and a retry."""
    if deadline is None or connection.vendor != "postgresql":
        return
    milliseconds = max(int(deadline.remaining() * 1000), 500)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = {milliseconds}")


def reconcile(
    sandbox_id: int, *, cluster: Cluster | None = _UNSET, deadline: Deadline | None = None
) -> Outcome:
    """Reconcile one sandbox. Two workers never interleave on one sandbox: the row is
    locked for the whole run. With a `deadline`, no cluster call runs past it."""
    if cluster is _UNSET:
        cluster = cluster_from_settings()
    delay = 0.2
    with deadline_scope(deadline):
        for attempt in range(DB_ATTEMPTS):
            try:
                return _reconcile_once(sandbox_id, cluster, deadline)
            except TRANSIENT_DB_ERRORS as exc:
                out_of_time = deadline is not None and deadline.remaining() < delay
                # Inside a caller's transaction there is nothing to retry with.
                if attempt == DB_ATTEMPTS - 1 or out_of_time or connection.in_atomic_block:
                    raise
                log.warning(
                    "reconcile of sandbox %s: database error, retrying: %s", sandbox_id, exc
                )
                _reset_broken_connections()
                time.sleep(delay)
                delay *= 2
    raise AssertionError("unreachable")


def _reconcile_once(sandbox_id: int, cluster: Cluster | None, deadline: Deadline | None) -> Outcome:
    started = time.monotonic()
    with transaction.atomic():
        _limit_lock_waits(deadline)
        doing("waiting for the sandbox row lock")
        sandbox = (
            # NO KEY UPDATE: serialises writers of this sandbox (services, other
            # reconciles) without blocking inserts that point at it (audit events).
            Sandbox.objects.select_for_update(no_key=True, of=("self",))
            .select_related("tenant__team__policy")
            .filter(pk=sandbox_id)
            .first()
        )
        if sandbox is None or sandbox.deleted_at:
            return Outcome("gone")
        before = list(sandbox.conditions or [])
        reconciler = SandboxReconciler(sandbox, cluster, timezone.now())
        outcome = reconciler.run()
        doing("saving the status")
        reconciler.save()
    observe_reconcile(sandbox, before, outcome, time.monotonic() - started, timezone.now())
    log.info("reconciled sandbox %s: %s", sandbox_id, outcome.status)
    return outcome


def backoff_seconds(retries: int) -> float:
    """1, 2, 4... seconds, capped at SIDESTAGE_RECONCILE_MAX_BACKOFF, with up to 20 %
    jitter so a burst of sandboxes hit by one outage does not retry in lockstep."""
    cap = float(settings.SIDESTAGE_RECONCILE_MAX_BACKOFF)
    base = min(2.0 ** min(retries, 16), cap)
    return round(base * (1 + random.random() * 0.2), 2)


def record_interruption(sandbox_id: int, reason: str, message: str) -> bool:
    """Write Ready=False/<reason> in a transaction of its own, after a run was cut
    short and rolled back: the outage is visible even though the run never finished.
    Returns False when the row is locked (a live run will write its own status) or gone."""
    try:
        with transaction.atomic():
            sandbox = (
                Sandbox.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(pk=sandbox_id, deleted_at__isnull=True)
                .first()
            )
            if sandbox is None:
                return False
            sandbox.conditions = c.set_condition(
                sandbox.conditions,
                type_=c.READY,
                status="False",
                reason=reason,
                message=message,
                generation=sandbox.generation,
                now=timezone.now(),
            )
            sandbox.save(update_fields=["conditions"])
            return True
    except DatabaseError as exc:
        # The database may be what failed; the retry below still happens.
        log.warning("could not record %s for sandbox %s: %s", reason, sandbox_id, exc)
        _reset_broken_connections()
        return False


def run_reconcile_task(task: Any, sandbox_id: int, polls: int = 0) -> str:
    """The Celery side. Transient failures (the cluster, the database, a run cut short
    by the soft time limit) are retried with backoff, for as long as they last: a
    reconcile is never dropped. Forks still rolling out requeue with a short, growing
    countdown (`readiness_poll_seconds`) instead of blocking a worker."""
    from sandboxes.queueing import reconcile_started
    from sandboxes.tasks import reconcile_sandbox

    # Before the row is read: a change committed from here on queues a run of its own.
    reconcile_started(sandbox_id)
    retries = task.request.retries or 0
    deadline = Deadline(float(settings.SIDESTAGE_RECONCILE_BUDGET_SECONDS))
    try:
        outcome = reconcile(sandbox_id, deadline=deadline)
    except SoftTimeLimitExceeded as exc:
        # The run's transaction rolled back; say so in a fresh one, then retry.
        message = (
            f"The reconcile was stopped by the task's {settings.CELERY_TASK_SOFT_TIME_LIMIT} s "
            f"time limit while {deadline.doing}; retrying."
        )
        record_interruption(sandbox_id, "ReconcileTimeout", message)
        raise task.retry(countdown=backoff_seconds(retries), exc=exc, max_retries=None) from exc
    except TRANSIENT_DB_ERRORS as exc:
        log.warning("reconcile of sandbox %s: database unavailable, retrying: %s", sandbox_id, exc)
        _reset_broken_connections()
        raise task.retry(countdown=backoff_seconds(retries), exc=exc, max_retries=None) from exc
    if outcome.transient is not None:
        raise task.retry(
            countdown=backoff_seconds(retries), exc=outcome.transient, max_retries=None
        )
    if outcome.poll:
        reconcile_sandbox.apply_async(
            (sandbox_id,), {"polls": polls + 1}, countdown=readiness_poll_seconds(polls)
        )
    elif outcome.requeue_after is not None:
        reconcile_sandbox.apply_async((sandbox_id,), countdown=outcome.requeue_after)
    return outcome.status


def queue_resync() -> int:
    """Queue a reconcile for every sandbox that may still have objects in the cluster."""
    from sandboxes.queueing import queue_reconcile

    ids = list(Sandbox.objects.present().values_list("pk", flat=True))
    for sandbox_id in ids:
        queue_reconcile(sandbox_id)
    return len(ids)
