"""Print, write or check the Helm chart's RBAC rules, generated from
sandboxes/cluster_permissions.py (the one source of truth)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandboxes.cluster_permissions import RULES_TEMPLATE, render_rules_template


class Command(BaseCommand):
    help = "Render the chart's RBAC rules from the reconciler's permission list."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--write", action="store_true", help=f"write {RULES_TEMPLATE.name}")
        group.add_argument(
            "--check", action="store_true", help="exit 1 if the chart's file is out of date"
        )

    def handle(self, *args: Any, write: bool, check: bool, **options: Any) -> None:
        text = render_rules_template()
        if write:
            RULES_TEMPLATE.write_text(text)
            self.stdout.write(f"wrote {RULES_TEMPLATE}")
        elif check:
            current = RULES_TEMPLATE.read_text() if RULES_TEMPLATE.exists() else ""
            if current != text:
                raise CommandError(
                    f"{RULES_TEMPLATE} is out of date; run `manage.py rbac_rules --write`"
                )
            self.stdout.write("RBAC rules are up to date")
        else:
            self.stdout.write(text, ending="")
