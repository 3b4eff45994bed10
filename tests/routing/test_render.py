"""The per-service entry point, determinism, and the no-I/O rule."""

import ast
from pathlib import Path

import pytest
import yaml

from routing.meshes import MESHES, UnknownMeshError
from routing.render import manifests_to_yaml, render_service_routes
from tests.routing.factories import ALICE_KEY, BOB_KEY, TENANT_KEY, baseline, fork
from tests.support.schemas import validate_manifest

ROUTING = Path(__file__).resolve().parents[2] / "routing"
# Modules that would mean I/O, processes, clocks or Django inside a pure renderer.
FORBIDDEN = {
    "django",
    "os",
    "socket",
    "subprocess",
    "pathlib",
    "requests",
    "httpx",
    "kubernetes",
    "time",
    "datetime",
    "random",
    "shutil",
    "io",
    "urllib.request",
}


@pytest.mark.parametrize("mesh", list(MESHES))
def test_every_mesh_renders_valid_deterministic_yaml(mesh, crds):
    forks = [fork(key=BOB_KEY, tenant_key=TENANT_KEY), fork(key=ALICE_KEY)]
    result = render_service_routes(baseline(mesh=mesh), forks)
    for obj in result.manifests:
        validate_manifest(obj)
    text = manifests_to_yaml(result.manifests)
    again = manifests_to_yaml(render_service_routes(baseline(mesh=mesh), forks[::-1]).manifests)
    assert text == again
    assert list(yaml.safe_load_all(text)) == list(result.manifests)


def test_an_unknown_mesh_is_refused_by_name():
    with pytest.raises(UnknownMeshError, match="mesh 'envoy-gateway' is not one of"):
        render_service_routes(baseline(mesh="envoy-gateway"), [fork(key=ALICE_KEY)])


def test_routing_modules_do_no_io():
    paths = sorted(ROUTING.rglob("*.py"))
    assert ROUTING / "meshes" / "istio.py" in paths
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name not in FORBIDDEN and name.split(".")[0] != "django", (path, name)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print", "input", "exec", "eval"}, path
