"""A demo team, its people and tenants, a catalog a new user understands, and a
sensible default data-isolation policy. Safe to run twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from routing.keys import generate_routing_key
from sandboxes.models import (
    BaselineService,
    DataAction,
    DataIsolationPolicy,
    DataIsolationRule,
    DataKind,
    DataResource,
    Membership,
    Mesh,
    Role,
    Team,
    Tenant,
    TenantKind,
)

DEMO_PASSWORD = "sidestage-demo"  # noqa: S105 - printed for the local demo only
DEMO_PEOPLE = [("lead", Role.LEAD), ("dev", Role.MEMBER), ("qa", Role.MEMBER)]

# (name, namespace, mesh, ports, description, [(resource, kind, env var, read-only value)])
CATALOG: list[tuple[str, str, str, list[int], str, list[tuple[str, str, str, str]]]] = [
    (
        "hello",
        "hello",
        Mesh.LINKERD1,
        [7777],
        "The classic Linkerd per-request-routing example: hello calls world.",
        [],
    ),
    ("world", "hello", Mesh.LINKERD1, [7778], "Answers 'world' to hello.", []),
    (
        "frontend",
        "shop",
        Mesh.ISTIO,
        [8080],
        "The shop's web front end; calls orders and payments.",
        [],
    ),
    (
        "orders",
        "shop",
        Mesh.GATEWAY_API,
        [8080],
        "Takes orders; stores them in Postgres and publishes order events.",
        [
            (
                "orders-db",
                DataKind.POSTGRES,
                "DATABASE_URL",
                "postgres://orders_ro@orders-db-replica.shop:5432/orders",
            ),
            ("orders-events", DataKind.KAFKA_TOPIC, "ORDERS_TOPIC", ""),
        ],
    ),
    ("payments", "shop", Mesh.ISTIO, [8080], "Charges cards (a sandbox-mode PSP in staging).", []),
]

# Catalog fields beyond the tuple above. The Linkerd 1 hello/world example's router
# names requests /svc/<Host> and rewrites /svc => /host => /srv; its per-request
# override is "/host/world => /srv/world-v2", so forks are delegated the same way.
EXTRA: dict[str, dict[str, Any]] = {
    "hello": {"linkerd1_name": "/host/hello", "linkerd1_dst_prefix": "/srv"},
    "world": {"linkerd1_name": "/host/world", "linkerd1_dst_prefix": "/srv"},
}

# (kind, profile, action, note)
DEFAULT_RULES = [
    (DataKind.POSTGRES, "dev", DataAction.ISOLATED_SCHEMA, "dev forks get their own schema"),
    (DataKind.POSTGRES, "prod-like", DataAction.READ_ONLY, "previews read the replica"),
    (DataKind.KAFKA_TOPIC, "*", DataAction.PREFIX, "topics get a sandbox prefix"),
    (DataKind.QUEUE, "*", DataAction.PREFIX, "queues get a sandbox prefix"),
    (DataKind.REDIS, "*", DataAction.PREFIX, "keys get a sandbox prefix"),
]


class Command(BaseCommand):
    help = "Create a demo team (a lead and two members), tenants, a catalog and a policy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Seed even when DEBUG is off (not for production)."
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError("seed_demo creates users with a known password; use --force.")
        policy, _ = DataIsolationPolicy.objects.get_or_create(
            name="staging-default",
            defaults={
                "description": "Writes never touch shared data: dev forks get their own "
                "schema, previews read a replica, topics and queues get a prefix.",
                "fallback_action": DataAction.DENY,
            },
        )
        if not policy.rules.exists():
            DataIsolationRule.objects.bulk_create(
                DataIsolationRule(policy=policy, kind=k, profile=p, action=a, note=n)
                for k, p, a, n in DEFAULT_RULES
            )
        team, _ = Team.objects.get_or_create(
            slug="demo",
            defaults={
                "name": "Demo shop",
                "policy": policy,
                "max_sandboxes": 20,
                "max_ttl": timedelta(days=3),
                "default_ttl": timedelta(hours=8),
                "allowed_namespaces": ["hello", "shop"],
                "allowed_registries": ["ghcr.io/acme", "docker.io/buoyantio", "docker.io/library"],
            },
        )
        User = get_user_model()
        for username, role in DEMO_PEOPLE:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@demo.sidestage.invalid"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
            Tenant.objects.get_or_create(
                team=team,
                name=username,
                defaults={"owner": user, "tenant_key": generate_routing_key()},
            )
        Tenant.objects.get_or_create(
            team=team,
            name="ci",
            defaults={"kind": TenantKind.CI, "tenant_key": generate_routing_key()},
        )
        for name, namespace, mesh, ports, description, resources in CATALOG:
            baseline, _ = BaselineService.objects.get_or_create(
                name=name,
                defaults={
                    "namespace": namespace,
                    "deployment": name,
                    "service": name,
                    "mesh": mesh,
                    "ports": ports,
                    "description": description,
                    **EXTRA.get(name, {}),
                },
            )
            for resource, kind, env_var, read_only in resources:
                DataResource.objects.get_or_create(
                    baseline=baseline,
                    name=resource,
                    defaults={"kind": kind, "env_var": env_var, "read_only_value": read_only},
                )
        admin, created = User.objects.get_or_create(username="admin")
        if created:
            admin.is_staff = admin.is_superuser = True
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: team '{team.slug}'. Log in as lead, dev or qa "
                f"(admin for /admin/), password {DEMO_PASSWORD}"
            )
        )
