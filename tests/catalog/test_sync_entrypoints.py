"""The two ways a sync runs: `manage.py sync_catalog` and the beat task in a real
Celery worker process, both against the real control plane."""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError, call_command

from sandboxes.cluster import reset_cluster_cache
from sandboxes.models import BaselineDrift, BaselineService
from sandboxes.tasks import sync_catalog
from tests.support.worker import start_worker

pytestmark = pytest.mark.cluster

FORKABLE = {"sidestage.dev/forkable": "true"}


@pytest.fixture
def kube_settings(settings, kube_cluster):
    settings.SIDESTAGE_CLUSTER = "kubeconfig"
    settings.SIDESTAGE_KUBECONFIG = kube_cluster.kubeconfig
    reset_cluster_cache()
    yield settings
    reset_cluster_cache()


def test_the_command_syncs_reports_and_accepts(
    db, discovery_world, kube_settings, tmp_path, capsys
):
    dw = discovery_world
    ns = dw.namespace("cmd", labels={"istio-injection": "enabled"})
    dw.workload("till", ns, annotations=FORKABLE)
    call_command("sync_catalog", "--namespace", ns)
    assert "created: till" in capsys.readouterr().out
    dw.workload("till", ns, annotations=FORKABLE, port=9090)
    call_command("sync_catalog", "--namespace", ns)
    assert "drifted: till" in capsys.readouterr().out
    call_command("sync_catalog", "--accept", "till")
    assert "till: now till, ports [9090]" in capsys.readouterr().out
    assert BaselineService.objects.get(name="till").drift == BaselineDrift.NONE

    bad = tmp_path / "catalog-info.yaml"
    bad.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}\n")
    with pytest.raises(CommandError, match="1 invalid file"):
        call_command("sync_catalog", "--namespace", ns, "--backstage", str(bad))
    assert f"{bad}: document 1: metadata.name is missing." in capsys.readouterr().err
    with pytest.raises(CommandError, match="No namespaces to read"):
        call_command("sync_catalog")


def test_the_task_is_off_without_namespaces(db, kube_settings):
    kube_settings.SIDESTAGE_DISCOVERY_NAMESPACES = []
    assert sync_catalog() == []


@pytest.mark.worker
def test_a_real_worker_runs_the_sync_task(
    transactional_db, discovery_world, kube_cluster, tmp_path
):
    dw = discovery_world
    ns = dw.namespace("wrk", labels={"istio-injection": "enabled"})
    dw.workload("till", ns, annotations=FORKABLE)
    worker = start_worker(
        tmp_path / "worker.log",
        SIDESTAGE_CLUSTER="kubeconfig",
        SIDESTAGE_KUBECONFIG=kube_cluster.kubeconfig,
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        SIDESTAGE_DISCOVERY_NAMESPACES=ns,
    )
    try:
        sync_catalog.delay()
        deadline = time.monotonic() + 60
        while not BaselineService.objects.filter(namespace=ns, name="till").exists():
            assert worker.process.poll() is None, worker.log
            assert time.monotonic() < deadline, worker.log
            time.sleep(0.3)
    finally:
        worker.stop()
    assert "catalog: created: till" in worker.log
