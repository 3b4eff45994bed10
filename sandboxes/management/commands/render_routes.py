"""Print exactly the route objects Sidestage would apply for one baseline service, as
YAML: for people who use GitOps, and for debugging a match."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.render import manifests_to_yaml
from sandboxes.models import BaselineService
from sandboxes.routes import render_routes_for


class Command(BaseCommand):
    help = "Render the mesh routes of one catalog service from its routable sandboxes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service", help="The catalog name of the baseline service.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            baseline = BaselineService.objects.get(name=options["service"])
        except BaselineService.DoesNotExist as exc:
            known = ", ".join(BaselineService.objects.values_list("name", flat=True)) or "none"
            raise CommandError(
                f"No catalog service named {options['service']!r} (known: {known})."
            ) from exc
        # Without a cluster nothing records deployments: render as if all were deployed.
        rendered = render_routes_for(
            baseline, require_deployed=settings.SIDESTAGE_CLUSTER != "none"
        )
        for conflict in rendered.conflicts:
            self.stderr.write(f"warning: {conflict.message}")
        if rendered.dtabs:
            self.stdout.write(f"# Linkerd 1: {baseline.name} has no route objects; clients send")
            for key, entry in sorted(rendered.dtabs.items()):
                self.stdout.write(f"#   key {key}: l5d-dtab: {entry}")
        if not rendered.manifests:
            if not rendered.dtabs:
                self.stdout.write(f"# No routable sandbox forks {baseline.name}: nothing to apply.")
            return
        self.stdout.write(manifests_to_yaml(rendered.manifests), ending="")
