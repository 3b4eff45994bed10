"""The one write path for catalog entries that come from the cluster or from
Backstage. Beat, the management commands and the admin action call these; nothing
else writes discovered entries.

Lock order: a transaction-level advisory lock (one per catalog; on SQLite the
IMMEDIATE transaction is the lock), then catalog rows. Sandbox rows are never locked
here: drift reaches sandboxes through reconciles queued on commit, so the
reconciler's own order (sandbox, then catalog entry) cannot deadlock against this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sandboxes.catalog.backstage import BackstageComponent, BackstageFileError
from sandboxes.catalog.discovery import DiscoveredWorkload
from sandboxes.errors import Conflict, ValidationFailed
from sandboxes.models import (
    AuditEvent,
    BaselineDrift,
    BaselineService,
    CatalogSource,
    DataResource,
    Sandbox,
    Team,
)

# Any constant: it names "the catalog" for pg_advisory_xact_lock.
CATALOG_LOCK_KEY = 0x5D5EC47A
DISCOVERED_SOURCES = (CatalogSource.CLUSTER, CatalogSource.BACKSTAGE)


class CatalogVerb:
    DISCOVERED = "catalog.discovered"
    UPDATED = "catalog.updated"
    RETIRED = "catalog.retired"
    RESTORED = "catalog.restored"
    DRIFTED = "catalog.drifted"
    DRIFT_CLEARED = "catalog.drift_cleared"
    DRIFT_ACCEPTED = "catalog.drift_accepted"
    IMPORTED = "catalog.imported"


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"{verb}: {', '.join(names)}"
            for verb, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("retired", self.retired),
                ("restored", self.restored),
                ("drifted", self.drifted),
            )
            if names
        ]
        out += [f"skipped {line}" for line in self.skipped]
        out += [f"unreadable namespace {ns}: {why}" for ns, why in sorted(self.unreadable.items())]
        return out


@dataclass
class ImportReport:
    linked: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return (
            [f"linked {x}" for x in self.linked]
            + [f"created {x}" for x in self.created]
            + [f"not linked {x}" for x in self.unmatched]
            + self.notes
        )


class BackstageImportFailed(ValidationFailed):
    """One or more files are invalid: nothing of the run was imported."""

    code = "backstage_invalid"

    def __init__(self, errors: list[BackstageFileError]) -> None:
        super().__init__(
            {e.source: [e.message] for e in errors},
            message=f"{len(errors)} invalid file(s); nothing was imported.",
        )


def _lock_catalog() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CATALOG_LOCK_KEY])


def _audit(verb: str, entry: BaselineService, data: dict[str, Any], actor: Any = None) -> None:
    AuditEvent.objects.create(
        team=entry.owner_team,
        actor=actor,
        verb=verb,
        target=f"service/{entry.name}",
        data={"namespace": entry.namespace, "deployment": entry.deployment, **data},
    )


def _queue_reconciles(baseline_ids: Iterable[int]) -> None:
    """Sandboxes that fork these entries learn of the drift on their next run; run it
    now rather than at the next resync."""
    ids = list(baseline_ids)
    if not ids:
        return
    from sandboxes.tasks import reconcile_sandbox

    sandbox_ids = (
        Sandbox.objects.present()
        .filter(forks__baseline_id__in=ids)
        .values_list("pk", flat=True)
        .distinct()
    )
    for sandbox_id in sandbox_ids:
        transaction.on_commit(partial(reconcile_sandbox.delay, sandbox_id))


def _detection_record(workload: DiscoveredWorkload) -> dict[str, Any]:
    record = workload.detection.to_dict() if workload.detection else {}
    # No timestamp here: `last_seen_at` has it, and an unchanged record is not rewritten.
    return {**record, "problems": list(workload.problems)}


def _sync_data_resources(entry: BaselineService, workload: DiscoveredWorkload) -> bool:
    wanted = {r.env_var: r for r in workload.data_resources}
    changed = False
    for existing in list(entry.data_resources.all()):
        spec = wanted.pop(existing.env_var, None)
        if spec is None:
            existing.delete()
            changed = True
        elif (existing.kind, existing.name) != (spec.kind, spec.name):
            existing.kind, existing.name = spec.kind, spec.name
            existing.save(update_fields=["kind", "name"])
            changed = True
    for spec in wanted.values():
        DataResource.objects.create(
            baseline=entry, name=spec.name, kind=spec.kind, env_var=spec.env_var
        )
        changed = True
    return changed


def _drift_of(entry: BaselineService, workload: DiscoveredWorkload) -> str:
    """What differs between the catalogued entry and the live workload; empty if nothing."""
    diffs = []
    if workload.service and entry.service != workload.service:
        diffs.append(f"Service {entry.service} -> {workload.service}")
    if not workload.service:
        diffs.append(f"Service {entry.service} is gone: {' '.join(workload.problems)}")
    elif sorted(entry.ports or []) != list(workload.ports):
        old = ", ".join(map(str, sorted(entry.ports or []))) or "none"
        diffs.append(f"ports {old} -> {', '.join(map(str, workload.ports))}")
    if workload.detection is not None and entry.mesh != workload.mesh:
        diffs.append(f"mesh {entry.mesh} -> {workload.mesh or 'none'}")
    if not diffs:
        return ""
    return "; ".join(diffs) + f" (accept with `sync_catalog --accept {entry.name}`)."


def _set_drift(entry: BaselineService, kind: str, message: str, now: datetime) -> bool:
    if entry.drift == kind and entry.drift_message == message[:500]:
        return False
    entry.drift, entry.drift_message = kind, message[:500]
    entry.drift_since = now if kind else None
    return True


def _new_entry(
    workload: DiscoveredWorkload, source: str, now: datetime, report: SyncReport | ImportReport
) -> BaselineService | None:
    taken = BaselineService.objects.filter(name=workload.name).first()
    if taken is not None:
        line = (
            f"{workload.namespace}/{workload.deployment}: catalog name {workload.name} "
            f"is taken by {taken.namespace}/{taken.deployment} ({taken.source}); set "
            "sidestage.dev/name."
        )
        (report.skipped if isinstance(report, SyncReport) else report.unmatched).append(line)
        return None
    same_service = BaselineService.objects.filter(
        namespace=workload.namespace, service=workload.service
    ).first()
    if same_service is not None:
        line = (
            f"{workload.namespace}/{workload.deployment}: Service {workload.service} is "
            f"already catalogued as {same_service.name} ({same_service.source})."
        )
        (report.skipped if isinstance(report, SyncReport) else report.unmatched).append(line)
        return None
    try:
        with transaction.atomic():
            entry = BaselineService.objects.create(
                name=workload.name,
                namespace=workload.namespace,
                deployment=workload.deployment,
                service=workload.service,
                ports=list(workload.ports),
                mesh=workload.mesh,
                description=workload.description,
                entry_path=workload.entry_path,
                source=source,
                last_seen_at=now,
                detection=_detection_record(workload),
                observed={**workload.observed, "mesh": workload.mesh},
            )
    except IntegrityError as exc:
        raise Conflict(f"Catalog entry {workload.name} was created concurrently.") from exc
    _sync_data_resources(entry, workload)
    return entry


def catalog_sync(
    *,
    discovered: list[DiscoveredWorkload],
    read_namespaces: list[str],
    unreadable: dict[str, str] | None = None,
    now: datetime | None = None,
    actor: Any = None,
) -> SyncReport:
    """Bring the cluster- and Backstage-sourced catalog in line with one discovery read.

    - A forkable, usable workload without an entry becomes one (`cluster`).
    - An entry's description, entry path, data resources, detection and last-seen
      follow the cluster. Its Service, ports and mesh do not: a difference marks it
      `changed` until someone accepts it (forks were built against the old shape).
    - An entry whose Deployment is gone is marked `not-found`; one whose
      `sidestage.dev/forkable` annotation went away is retired (no new forks;
      running sandboxes keep going until they expire). Both heal when the cluster
      does.
    - Hand-made entries, and namespaces not read, are left alone.
    """
    now = now or timezone.now()
    report = SyncReport(unreadable=dict(unreadable or {}))
    by_key = {(w.namespace, w.deployment): w for w in discovered}
    touched_drift: set[int] = set()
    only_seen: list[int] = []
    with transaction.atomic():
        _lock_catalog()
        entries = {
            (e.namespace, e.deployment): e
            for e in BaselineService.objects.select_for_update()
            .filter(namespace__in=read_namespaces, source__in=DISCOVERED_SOURCES)
            .prefetch_related("data_resources")
            .order_by("pk")
        }
        for key, workload in sorted(by_key.items()):
            entry = entries.get(key)
            if entry is None:
                if not workload.forkable:
                    continue
                if not workload.usable:
                    report.skipped.append(
                        f"{workload.namespace}/{workload.deployment}: "
                        + " ".join(workload.problems)
                    )
                    continue
                created = _new_entry(workload, CatalogSource.CLUSTER, now, report)
                if created is not None:
                    report.created.append(created.name)
                    _audit(
                        CatalogVerb.DISCOVERED,
                        created,
                        {
                            "service": created.service,
                            "ports": created.ports,
                            "mesh": created.mesh,
                            "evidence": created.detection.get("evidence", []),
                        },
                        actor,
                    )
                continue
            if not _sync_entry(entry, workload, now, report, touched_drift, actor):
                only_seen.append(entry.pk)
        # Entries where nothing but the time changed: one UPDATE, not one per entry.
        BaselineService.objects.filter(pk__in=only_seen).update(last_seen_at=now)
        for key, entry in sorted(entries.items()):
            if key in by_key:
                continue
            message = (
                f"Deployment {entry.namespace}/{entry.deployment} was not found "
                f"at {now:%Y-%m-%d %H:%M} UTC."
            )
            if entry.drift != BaselineDrift.NOT_FOUND:
                _set_drift(entry, BaselineDrift.NOT_FOUND, message, now)
                entry.save(update_fields=["drift", "drift_message", "drift_since"])
                report.drifted.append(entry.name)
                touched_drift.add(entry.pk)
                _audit(
                    CatalogVerb.DRIFTED, entry, {"drift": entry.drift, "message": message}, actor
                )
        _queue_reconciles(touched_drift)
    return report


def _sync_entry(
    entry: BaselineService,
    workload: DiscoveredWorkload,
    now: datetime,
    report: SyncReport,
    touched_drift: set[int],
    actor: Any,
) -> bool:
    """Bring one entry in line with its workload; False when only `last_seen_at` would
    change (the caller updates those in bulk)."""
    fields: list[str] = []
    detection = _detection_record(workload)
    observed = {**workload.observed, "mesh": workload.mesh}
    if entry.detection != detection:
        entry.detection = detection
        fields.append("detection")
    if entry.observed != observed:
        entry.observed = observed
        fields.append("observed")
    is_cluster = entry.source == CatalogSource.CLUSTER
    if workload.forkable and entry.source == CatalogSource.BACKSTAGE:
        # Annotated since the import: the cluster is now the entry's source.
        entry.source = CatalogSource.CLUSTER
        fields.append("source")
        is_cluster = True
    if is_cluster and not workload.forkable:
        if entry.retired_at is None:
            entry.retired_at = now
            fields.append("retired_at")
            report.retired.append(entry.name)
            _audit(CatalogVerb.RETIRED, entry, {"why": "sidestage.dev/forkable removed"}, actor)
        return _save_seen(entry, fields, now)
    if entry.retired_at is not None and is_cluster:
        entry.retired_at = None
        fields.append("retired_at")
        report.restored.append(entry.name)
        _audit(CatalogVerb.RESTORED, entry, {}, actor)
    changes: dict[str, Any] = {}
    if is_cluster:
        for attr in ("description", "entry_path"):
            # Without the annotation, a description from Backstage or the admin stays.
            if attr == "description" and not workload.description:
                continue
            if getattr(entry, attr) != getattr(workload, attr):
                changes[attr] = getattr(workload, attr)
                setattr(entry, attr, getattr(workload, attr))
                fields.append(attr)
        if not workload.problems and _sync_data_resources(entry, workload):
            changes["dataResources"] = [r.env_var for r in workload.data_resources]
    message = _drift_of(entry, workload)
    kind = BaselineDrift.CHANGED if message else BaselineDrift.NONE
    if _set_drift(entry, kind, message, now):
        fields += ["drift", "drift_message", "drift_since"]
        touched_drift.add(entry.pk)
        if kind:
            report.drifted.append(entry.name)
        _audit(
            CatalogVerb.DRIFTED if kind else CatalogVerb.DRIFT_CLEARED,
            entry,
            {"drift": kind, "message": message},
            actor,
        )
    if changes:
        report.updated.append(entry.name)
        _audit(CatalogVerb.UPDATED, entry, changes, actor)
    return _save_seen(entry, fields, now)


def _save_seen(entry: BaselineService, fields: list[str], now: datetime) -> bool:
    if not fields:
        return False
    entry.last_seen_at = now
    entry.save(update_fields=[*fields, "last_seen_at"])
    return True


def catalog_accept_drift(*, baseline: BaselineService, actor: Any = None) -> BaselineService:
    """Take the live Service, ports and mesh into the entry (forks built from now on
    follow them) and clear the `changed` mark."""
    with transaction.atomic():
        _lock_catalog()
        entry = BaselineService.objects.select_for_update().get(pk=baseline.pk)
        if entry.drift != BaselineDrift.CHANGED or not entry.observed:
            raise Conflict(f"{entry.name} has no change to accept ({entry.drift or 'in sync'}).")
        before = {"service": entry.service, "ports": entry.ports, "mesh": entry.mesh}
        entry.service = entry.observed.get("service") or entry.service
        entry.ports = list(entry.observed.get("ports") or entry.ports)
        entry.mesh = entry.observed.get("mesh") or entry.mesh
        _set_drift(entry, BaselineDrift.NONE, "", timezone.now())
        try:
            with transaction.atomic():
                entry.save()
        except IntegrityError as exc:
            raise Conflict(
                f"Service {entry.namespace}/{entry.service} is already another entry's."
            ) from exc
        _audit(CatalogVerb.DRIFT_ACCEPTED, entry, {"before": before}, actor)
        _queue_reconciles([entry.pk])
    return entry


def _match(
    component: BackstageComponent, discovered: list[DiscoveredWorkload]
) -> list[DiscoveredWorkload]:
    """Workloads a component names: by the `backstage.io/kubernetes-id` label the
    Kubernetes plugin selects on, else by Deployment name; within
    `kubernetes-namespace` when the component sets it."""
    pool = [
        w
        for w in discovered
        if not component.kubernetes_namespace or w.namespace == component.kubernetes_namespace
    ]
    labelled = [w for w in pool if w.backstage_id == component.kubernetes_id]
    return labelled or [w for w in pool if w.deployment == component.kubernetes_id]


def catalog_import_backstage(
    *,
    components: list[BackstageComponent],
    discovered: list[DiscoveredWorkload],
    errors: list[BackstageFileError] | None = None,
    notes: list[str] | None = None,
    now: datetime | None = None,
    actor: Any = None,
) -> ImportReport:
    """Link Backstage components to workloads, all or nothing for the run.

    With any invalid file (`errors`) nothing is written and `BackstageImportFailed`
    lists every bad file. A component whose workload has an entry (discovered or
    hand-made) links it: the Backstage reference, the owner team (a team whose slug is
    the owner group's name), and the description when the entry has none. A component
    whose workload is not annotated becomes a `backstage` entry. A component that
    names no workload in the namespaces read is reported, not guessed at.
    """
    if errors:
        raise BackstageImportFailed(errors)
    now = now or timezone.now()
    report = ImportReport(notes=list(notes or []))
    teams = {t.slug: t for t in Team.objects.all()}
    with transaction.atomic():
        _lock_catalog()
        for component in components:
            matches = _match(component, discovered)
            if len(matches) != 1:
                why = (
                    "no workload in the namespaces read"
                    if not matches
                    else "several workloads: "
                    + ", ".join(f"{w.namespace}/{w.deployment}" for w in matches)
                )
                report.unmatched.append(f"{component.ref} ({component.kubernetes_id}): {why}")
                continue
            workload = matches[0]
            team = teams.get(component.owner_group) if component.owner_group else None
            entry = (
                BaselineService.objects.select_for_update()
                .filter(namespace=workload.namespace, deployment=workload.deployment)
                .order_by("pk")
                .first()
            )
            if entry is None:
                if not workload.usable:
                    report.unmatched.append(
                        f"{component.ref}: {workload.namespace}/{workload.deployment}: "
                        + " ".join(workload.problems)
                    )
                    continue
                entry = _new_entry(workload, CatalogSource.BACKSTAGE, now, report)
                if entry is None:
                    continue
                report.created.append(f"{component.ref} -> {entry.name}")
            else:
                report.linked.append(f"{component.ref} -> {entry.name}")
            entry.backstage_ref = component.ref
            entry.owner_team = team
            if not entry.description and component.description:
                entry.description = component.description
            entry.save(update_fields=["backstage_ref", "owner_team", "description"])
            _audit(
                CatalogVerb.IMPORTED,
                entry,
                {
                    "backstage": component.ref,
                    "file": component.source,
                    "ownerGroup": component.owner_group,
                    "team": team.slug if team else None,
                },
                actor,
            )
    return report
