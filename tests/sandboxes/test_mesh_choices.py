"""The catalog's mesh choices and their check constraint come from the mesh registry."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from routing.meshes import MESHES
from sandboxes.models import BaselineService, Mesh
from tests import factories


def test_choices_are_the_registered_meshes():
    assert Mesh.values == list(MESHES)
    assert dict(Mesh.choices) == {name: mesh.label for name, mesh in MESHES.items()}
    field = BaselineService._meta.get_field("mesh")
    assert all(len(name) <= field.max_length for name in MESHES)


def test_check_constraint_lists_exactly_the_registered_meshes():
    (constraint,) = [
        c for c in BaselineService._meta.constraints if c.name == "baseline_mesh_valid"
    ]
    assert constraint.condition.children == [("mesh__in", list(MESHES))]


@pytest.mark.django_db
def test_the_database_refuses_a_mesh_no_module_provides():
    for name in MESHES:
        factories.BaselineServiceFactory(name=f"svc-{name}", service=f"svc-{name}", mesh=name)
    with pytest.raises(IntegrityError, match="baseline_mesh_valid"), transaction.atomic():
        factories.BaselineServiceFactory(name="svc-x", service="svc-x", mesh="envoy-gateway")
