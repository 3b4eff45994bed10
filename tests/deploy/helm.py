"""Run the Helm binary that scripts/helm-build builds from the Go module proxy."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "sidestage"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
HELM_BUILD = REPO_ROOT / "scripts" / "helm-build"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the API server would warn or refuse)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key, deep=True) for key, _ in node.value]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise AssertionError(f"duplicate keys {sorted(duplicates)} at {node.start_mark}")
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def build_helm() -> Path:
    """The cached helm binary, built once per version; fails the test run loudly."""
    result = subprocess.run(
        [str(HELM_BUILD)], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/helm-build failed (exit {result.returncode}); the chart tier cannot "
            f"run:\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class Helm:
    binary: Path
    home: Path  # keeps Helm's cache/config/data out of the user's home

    def run(
        self, *args: str, kubeconfig: str | None = None, check: bool = True, timeout: int = 600
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
        result = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stderr[-4000:]}\n{result.stdout[-2000:]}"
            )
        return result

    def template(
        self, *, values: Sequence[Path] = (), sets: Sequence[str] = (), namespace: str = "sidestage"
    ) -> list[dict[str, Any]]:
        args = ["template", "sbx", str(CHART), "--namespace", namespace]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        out = self.run(*args).stdout
        return [doc for doc in yaml.load_all(out, Loader=_StrictLoader) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [o for o in by_kind(objects, kind) if o["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, found {len(found)}"
    return found[0]
