"""Every registered mesh implements the interface, and behaves as the callers assume.

The reconciler, the orphan sweep and the redaction of applied manifests never test a
mesh's name: they trust what these tests check for every module in routing/meshes/.
A new mesh module is picked up here without editing this file.
"""

from __future__ import annotations

import copy
import inspect
import re

import pytest

import routing.meshes as registry
from routing.meshes import MESHES, MeshRouting, all_kinds, get_mesh, mesh_module_names, mesh_of
from routing.names import MANAGED_BY_LABEL, SANDBOX_LABEL, SERVICE_LABEL
from routing.plan import plan_routes
from routing.render import manifests_to_yaml
from tests.routing.factories import ALICE_KEY, BOB_KEY, TENANT_KEY, baseline, fork
from tests.support.schemas import validate_manifest

# The catalog column is a CharField(max_length=16) holding the name.
NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")


def _render(mesh: MeshRouting, forks: list, *, ports: tuple[int, ...] = (8080,)):
    service = baseline(mesh=mesh.name, ports=ports)
    return mesh.render(service, plan_routes(service.name, forks))


def test_every_mesh_module_is_registered_under_its_name():
    names = mesh_module_names()
    assert names, "routing/meshes/ has no mesh module"
    assert len(MESHES) == len(names)
    for module_name in names:
        module = __import__(f"routing.meshes.{module_name}", fromlist=["MESH"])
        mesh = module.MESH
        assert MESHES[mesh.name] is mesh
        assert get_mesh(mesh.name) is mesh


def test_a_module_without_a_mesh_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "mesh_module_names", lambda: ["base"])
    with pytest.raises(TypeError, match=r"routing.meshes.base must export MESH"):
        registry._discover()


@pytest.mark.parametrize("mesh", MESHES.values(), ids=list(MESHES))
def test_mesh_implements_the_interface(mesh: MeshRouting):
    assert isinstance(mesh, MeshRouting)
    assert not inspect.isabstract(type(mesh))
    assert NAME.fullmatch(mesh.name), mesh.name
    assert mesh.label.strip()
    for kind in mesh.kinds:
        api_version, name = kind
        assert api_version and "/" in api_version and name[0].isupper(), kind
    assert set(mesh.sandbox_kinds) <= set(mesh.kinds)
    assert set(mesh.foreign_host_kinds) <= set(mesh.kinds)


def test_no_kind_has_two_meshes():
    claimed = [kind for mesh in MESHES.values() for kind in mesh.kinds]
    assert len(claimed) == len(set(claimed))
    assert sorted(claimed) == list(all_kinds())


@pytest.mark.parametrize("mesh", MESHES.values(), ids=list(MESHES))
def test_no_forks_render_nothing(mesh: MeshRouting):
    routes = _render(mesh, [])
    assert routes.manifests == ()
    assert dict(routes.dtabs) == {}


@pytest.mark.parametrize("mesh", MESHES.values(), ids=list(MESHES))
def test_rendered_objects_are_the_meshes_own_and_labelled_for_the_sweep(mesh, crds):
    forks = [fork(key=ALICE_KEY, tenant_key=TENANT_KEY), fork(key=BOB_KEY)]
    routes = _render(mesh, forks, ports=(8080, 9090))
    if not mesh.kinds:
        # A mesh without objects routes through header values clients send.
        assert routes.manifests == ()
        assert set(routes.dtabs) == {ALICE_KEY, TENANT_KEY, BOB_KEY}
        return
    assert routes.manifests
    for obj in routes.manifests:
        validate_manifest(obj)
        assert mesh.owns(obj)
        assert mesh_of(obj) is mesh
        labels = obj["metadata"]["labels"]
        assert labels[SERVICE_LABEL] == "orders"
        if (obj["apiVersion"], obj["kind"]) in mesh.sandbox_kinds and SANDBOX_LABEL in labels:
            assert labels[SANDBOX_LABEL] in (ALICE_KEY, BOB_KEY)
        else:
            # Shared objects are found by the service label only: the sweep deletes
            # them when no sandbox forks the service any more.
            assert SANDBOX_LABEL not in labels
    again = _render(mesh, forks[::-1], ports=(9090, 8080))
    assert manifests_to_yaml(again.manifests) == manifests_to_yaml(routes.manifests)


@pytest.mark.parametrize("mesh", MESHES.values(), ids=list(MESHES))
def test_redaction_hides_every_other_sandboxs_key(mesh: MeshRouting):
    routes = _render(mesh, [fork(key=ALICE_KEY, tenant_key=TENANT_KEY), fork(key=BOB_KEY)])
    for obj in routes.manifests:
        owner = obj["metadata"]["labels"].get(SANDBOX_LABEL)
        if owner is not None and owner != ALICE_KEY:
            continue  # another sandbox's own object is never shown at all
        original = copy.deepcopy(obj)
        shown = manifests_to_yaml([mesh.redact(copy.deepcopy(obj), ALICE_KEY)])
        assert BOB_KEY not in shown, obj["metadata"]["name"]
        assert obj == original
        if ALICE_KEY in manifests_to_yaml([obj]):
            assert ALICE_KEY in shown, "redaction dropped the sandbox's own route"


@pytest.mark.parametrize("mesh", [m for m in MESHES.values() if m.kinds], ids=lambda m: m.name)
def test_an_object_someone_else_manages_is_not_owned(mesh: MeshRouting):
    (obj, *_) = _render(mesh, [fork(key=ALICE_KEY)]).manifests
    theirs = copy.deepcopy(obj)
    theirs["metadata"]["labels"] = {MANAGED_BY_LABEL: "helm"}
    assert not mesh.owns(theirs)
    other_kind = {**obj, "kind": "ConfigMap", "apiVersion": "v1"}
    assert not mesh.owns(other_kind)
    assert mesh_of(other_kind) is None
