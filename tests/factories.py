"""factory-boy factories for the catalog and people. Sandboxes are made through
`sandboxes.services` in tests, as in production, so their invariants hold."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model

from routing.keys import generate_routing_key
from sandboxes import models

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password(PASSWORD)


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DataIsolationPolicy

    name = factory.Sequence(lambda n: f"policy-{n}")
    fallback_action = models.DataAction.DENY


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DataIsolationRule

    policy = factory.SubFactory(PolicyFactory)
    action = models.DataAction.SHARED


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    allowed_namespaces = factory.LazyFunction(lambda: ["shop", "hello"])
    allowed_registries = factory.LazyFunction(lambda: ["ghcr.io/acme", "docker.io/library"])
    max_ttl = timedelta(days=7)
    default_ttl = timedelta(hours=8)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = models.Role.MEMBER


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tenant

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"tenant-{n}")
    tenant_key = factory.LazyFunction(generate_routing_key)


class BaselineServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.BaselineService

    name = factory.Sequence(lambda n: f"svc-{n}")
    namespace = "shop"
    deployment = factory.LazyAttribute(lambda s: s.name)
    service = factory.LazyAttribute(lambda s: s.name)
    ports = factory.LazyFunction(lambda: [8080])
    mesh = models.Mesh.ISTIO


class DataResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DataResource

    baseline = factory.SubFactory(BaselineServiceFactory)
    name = factory.Sequence(lambda n: f"data-{n}")
    kind = models.DataKind.POSTGRES
    env_var = "DATABASE_URL"
