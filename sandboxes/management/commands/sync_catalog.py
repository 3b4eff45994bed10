"""Discover forkable services in the cluster and import Backstage catalog files, the
same run beat does every SIDESTAGE_CATALOG_SYNC_SECONDS; or accept a baseline's drift."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandboxes.catalog import services
from sandboxes.catalog.runner import (
    configured_backstage_sources,
    configured_namespaces,
    run_catalog_sync,
)
from sandboxes.cluster import cluster_from_settings
from sandboxes.errors import SidestageError
from sandboxes.models import BaselineService


class Command(BaseCommand):
    help = "Sync the catalog from the cluster (and Backstage files), or accept a drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--namespace",
            action="append",
            dest="namespaces",
            help="Read this namespace (repeatable). Default: SIDESTAGE_DISCOVERY_NAMESPACES.",
        )
        parser.add_argument(
            "--backstage",
            action="append",
            dest="sources",
            help="A catalog-info.yaml path, folder or http(s) URL (repeatable). "
            "Default: SIDESTAGE_BACKSTAGE_SOURCES.",
        )
        parser.add_argument(
            "--accept",
            metavar="NAME",
            help="Take the live Service, ports and mesh of a changed entry into the catalog.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["accept"]:
            baseline = BaselineService.objects.filter(name=options["accept"]).first()
            if baseline is None:
                raise CommandError(f"No catalog service named {options['accept']!r}.")
            try:
                entry = services.catalog_accept_drift(baseline=baseline)
            except SidestageError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(
                f"{entry.name}: now {entry.service}, ports {entry.ports}, mesh {entry.mesh}"
            )
            return
        namespaces = options["namespaces"] or configured_namespaces()
        if not namespaces:
            raise CommandError(
                "No namespaces to read: pass --namespace or set SIDESTAGE_DISCOVERY_NAMESPACES."
            )
        cluster = cluster_from_settings()
        if cluster is None:
            raise CommandError("No cluster configured (SIDESTAGE_CLUSTER=none).")
        try:
            run = run_catalog_sync(
                cluster,
                namespaces=namespaces,
                backstage_sources=options["sources"] or configured_backstage_sources(),
            )
        except services.BackstageImportFailed as exc:
            for source, messages in exc.fields.items():
                for message in messages:
                    self.stderr.write(f"{source}: {message}")
            raise CommandError(exc.message) from exc
        for line in run.lines() or ["nothing changed"]:
            self.stdout.write(line)
