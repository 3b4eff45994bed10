from __future__ import annotations

import pytest

from tests.deploy.helm import Helm, build_helm

# The reconciler's real-cluster world (baselines, catalog), shared with tests/reconcile.
from tests.reconcile.conftest import cluster_world, provisioner_dsn  # noqa: F401


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(build_helm(), tmp_path_factory.mktemp("helm-home"))
