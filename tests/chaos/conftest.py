"""The chaos tier: faults as they really happen, to real processes, with real signals.

Each scenario runs a real Celery worker (prefork, as production runs it) against the
session's real kube-apiserver and the test PostgreSQL, then breaks something for
real: SIGSTOP/SIGCONT or SIGKILL the kube-apiserver, restart a private Redis, SIGKILL
a prefork child. While the fault lasts it polls the sandboxes and records what a
person would have seen; afterwards every sandbox must converge without waiting for a
resync, with every route rule present exactly once and no duplicate objects.

The worker runs with a short time budget (CHAOS_LIMITS) so that "longer than the soft
limit" takes seconds, not minutes; production keeps the values in portal/settings.py.
Figures go to $SIDESTAGE_CHAOS_FIGURES (bench/chaos.py collects them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from routing.meshes.istio import sandbox_rule_name
from routing.names import SANDBOX_LABEL, fork_object_name, shared_route_name
from sandboxes import services
from sandboxes.conditions import condition_status
from sandboxes.models import Sandbox
from tests.reconcile.conftest import ClusterWorld, cluster_world, provisioner_dsn  # noqa: F401
from tests.support.worker import Worker

REPO = Path(__file__).resolve().parents[2]
# Short, but in the same proportions as production (see docs/architecture.md).
CHAOS_LIMITS = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "12",
    "CELERY_TASK_TIME_LIMIT": "20",
    "SIDESTAGE_RECONCILE_BUDGET_SECONDS": "8",
    "SIDESTAGE_KUBE_CONNECT_TIMEOUT": "1",
    "SIDESTAGE_KUBE_READ_TIMEOUT": "2",
    "SIDESTAGE_KUBE_ATTEMPTS": "2",
    "SIDESTAGE_RECONCILE_MAX_BACKOFF": "4",
    "CELERY_VISIBILITY_TIMEOUT": "30",
}
OUTAGE_REASONS = {"ClusterUnreachable", "ReconcileTimeout", "DataUnreachable"}


def worker_env(kube_cluster: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SIDESTAGE_CLUSTER": "kubeconfig",
        "SIDESTAGE_KUBECONFIG": kube_cluster.kubeconfig,
        "SIDESTAGE_VAR_DIR": str(tmp_path / "var"),
        **CHAOS_LIMITS,
        **extra,
    }


def private_plane(kube_cluster: Any) -> Path:
    """The run dir of the session's own control plane; a shared cluster is never
    signalled."""
    if not kube_cluster.started_here or kube_cluster.run_dir is None:
        pytest.skip("the chaos tier signals the API server: needs the session's own plane")
    return Path(kube_cluster.run_dir)


def apiserver_pid(run_dir: Path) -> int:
    return int((run_dir / "pids" / "kube-apiserver.pid").read_text())


def run_testenv(*args: str) -> None:
    subprocess.run(
        [str(REPO / "scripts" / "k8s-testenv"), *args], check=True, capture_output=True, timeout=180
    )


# --- watching what a person sees ----------------------------------------------------------
@dataclass
class Watch:
    """Polls the sandboxes' Ready condition and keeps the timeline."""

    ids: list[int]
    t0: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, dict[int, tuple[str, str]]]] = field(default_factory=list)

    def poll(self) -> dict[int, tuple[str, str]]:
        now = {}
        for pk, conditions in Sandbox.objects.filter(pk__in=self.ids).values_list(
            "pk", "conditions"
        ):
            ready = next((c for c in conditions or [] if c["type"] == "Ready"), None)
            now[pk] = (ready["status"], ready["reason"]) if ready else ("Unknown", "")
        self.samples.append((time.monotonic() - self.t0, now))
        return now

    def until(
        self,
        done: Callable[[dict[int, tuple[str, str]]], bool],
        *,
        timeout: float,
        what: str,
        worker: Worker | None = None,
        interval: float = 0.25,
    ) -> float:
        """Poll until `done(state)`; returns the seconds since t0."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.poll()
            if done(state):
                return self.samples[-1][0]
            if time.monotonic() > deadline or (worker and worker.process.poll() is not None):
                raise AssertionError(
                    f"timed out waiting for {what}: {state}\n"
                    + (worker.log[-6000:] if worker else "")
                )
            time.sleep(interval)

    def mark(self) -> float:
        """Poll once and return the seconds since t0: the time of an event."""
        self.poll()
        return self.samples[-1][0]

    def first(self, pk: int, predicate: Callable[[tuple[str, str]], bool]) -> float | None:
        for t, state in self.samples:
            if pk in state and predicate(state[pk]):
                return t
        return None

    def reasons(self, pk: int, *, between: tuple[float, float] = (0, 1e9)) -> set[str]:
        return {
            state[pk][1]
            for t, state in self.samples
            if pk in state and between[0] <= t <= between[1]
        }


def all_ready(state: dict[int, tuple[str, str]]) -> bool:
    return all(status == "True" for status, _ in state.values())


def create_burst(world: Any, prefix: str, count: int, start: int = 0) -> list[Sandbox]:
    return [
        services.sandbox_create(
            actor=world.alice,
            tenant=world.alice_tenant,
            name=f"{prefix}-{i}",
            forks=[{"service": "web"}],
        )
        for i in range(start, start + count)
    ]


def assert_converged_cleanly(cw: ClusterWorld, sandboxes: list[Sandbox]) -> None:
    """Every sandbox Ready; its route rule in the shared VirtualService exactly once,
    before the catch-all; exactly one fork Deployment and Service each."""
    for sandbox in sandboxes:
        sandbox.refresh_from_db()
        assert condition_status(sandbox.conditions, "Ready") == "True", sandbox.conditions
    vs = cw.cluster.get(
        "networking.istio.io/v1", "VirtualService", shared_route_name("web"), cw.namespace
    )
    names = [rule.get("name") for rule in vs["spec"]["http"]]
    for sandbox in sandboxes:
        assert names.count(sandbox_rule_name(sandbox.routing_key)) == 1, names
    assert len(names) == len(set(names)) == len(sandboxes) + 1, names
    for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1")):
        owned = cw.cluster.list(
            api_version, kind, label_selector=SANDBOX_LABEL, namespace=cw.namespace
        )
        by_sandbox: dict[str, list[str]] = {}
        for obj in owned:
            by_sandbox.setdefault(obj["metadata"]["labels"][SANDBOX_LABEL], []).append(
                obj["metadata"]["name"]
            )
        assert by_sandbox == {
            s.routing_key: [fork_object_name("web", s.routing_key)] for s in sandboxes
        }, by_sandbox


def shown_to_people(world: Any, sandbox: Sandbox) -> tuple[str, str]:
    """What the API and the UI status partial say about the sandbox right now."""
    from rest_framework.test import APIClient

    token = services.token_issue(
        actor=world.alice, team=world.shop, name=f"chaos-{sandbox.pk}-{time.monotonic_ns() % 10**6}"
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.secret}")
    body = api.get(f"/api/v1/sandboxes/{sandbox.name}?tenant=alice").content.decode()
    ui = Client()
    ui.force_login(world.alice)
    page = ui.get(
        f"/sandboxes/{sandbox.pk}/status/",
        headers={"HX-Request": "true", "HX-Target": "sandbox-status"},
    ).content.decode()
    return body, page


def record_figures(scenario: str, **figures: Any) -> None:
    """One JSON line per scenario in $SIDESTAGE_CHAOS_FIGURES (bench/chaos.py)."""
    target = os.environ.get("SIDESTAGE_CHAOS_FIGURES")
    if not target:
        return
    with Path(target).open("a") as out:
        out.write(json.dumps({"scenario": scenario, **figures}) + "\n")


# --- a private Redis -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own, with the persistence production needs (appendonly),
    so that it can be restarted without touching the shared one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                *("--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)),
                *("--appendonly", "yes", "--appendfsync", "always", "--save", ""),
                *("--logfile", str(self.directory / "redis.log")),
            ],
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"private redis did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory)
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


@contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """Point this process's Celery producer (the services' on_commit enqueue) at
    another broker for the duration."""
    from kombu import pools
    from kombu.utils.collections import eqhash

    from portal.celery import app

    def forget() -> None:
        # Only the app's references: kombu keeps one producer pool per broker URL in a
        # process-wide registry, and the usual broker's pool must stay open for the
        # tests that run after this one.
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    forget()
    app.conf.broker_url = url
    try:
        yield
    finally:
        private = app.connection_for_write()
        forget()
        app.conf.broker_url = previous
        for group in (pools.producers, pools.connections):
            pool = dict.get(group, eqhash(private))
            if pool is not None:
                pool.force_close_all()
                del group[private]


def child_with_connection_to(parent_pid: int, port: int) -> int | None:
    """The child of `parent_pid` that holds a TCP connection to 127.0.0.1:`port`."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        remote = parts[2]
        if int(remote.split(":")[1], 16) == port:
            inodes.add(parts[9])
    children = Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split()
    for child in children:
        try:
            fds = list(Path(f"/proc/{child}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return int(child)
    return None
