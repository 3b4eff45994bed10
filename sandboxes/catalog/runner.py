"""One catalog sync: read the cluster (outside any transaction), then hand what was
read to the services. Called by the beat task and the `sync_catalog` command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from sandboxes.catalog import services
from sandboxes.catalog.backstage import parse_sources
from sandboxes.catalog.discovery import discover, read_snapshot
from sandboxes.cluster import Cluster


@dataclass
class CatalogRun:
    sync: services.SyncReport
    backstage: services.ImportReport | None = None

    def lines(self) -> list[str]:
        return self.sync.lines() + (self.backstage.lines() if self.backstage else [])


def configured_namespaces() -> list[str]:
    return list(settings.SIDESTAGE_DISCOVERY_NAMESPACES)


def configured_backstage_sources() -> list[str]:
    return list(settings.SIDESTAGE_BACKSTAGE_SOURCES)


def run_catalog_sync(
    cluster: Cluster,
    *,
    namespaces: list[str] | None = None,
    backstage_sources: list[str] | None = None,
    actor: Any = None,
) -> CatalogRun:
    """Discover, then import Backstage files against the same read of the cluster.

    Backstage files are parsed before anything is written, so an invalid file stops
    the import (`BackstageImportFailed`) after discovery has been recorded: discovery
    does not depend on the files.
    """
    namespaces = configured_namespaces() if namespaces is None else namespaces
    sources = configured_backstage_sources() if backstage_sources is None else backstage_sources
    snapshot = read_snapshot(cluster, namespaces)
    discovered = discover(snapshot)
    run = CatalogRun(
        sync=services.catalog_sync(
            discovered=discovered,
            read_namespaces=snapshot.read_namespaces,
            unreadable=snapshot.unreadable,
            actor=actor,
        )
    )
    if sources:
        parsed, errors = parse_sources(sources)
        run.backstage = services.catalog_import_backstage(
            components=[c for f in parsed for c in f.components],
            discovered=discovered,
            errors=errors,
            notes=[f"{f.source}: {n}" for f in parsed for n in f.notes],
            actor=actor,
        )
    return run
