"""PostgreSQL restarted in the middle of a reconcile: a private cluster (initdb into a
temporary directory, its own port), restarted with `pg_ctl restart -m fast`, which
terminates every session as an operator's restart or a failover does. The reconcile
caught inside its transaction meets a dead connection, opens a fresh one and runs
again; every sandbox converges."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from routing.meshes.istio import sandbox_rule_name
from routing.names import SANDBOX_LABEL, fork_object_name, shared_route_name
from tests.chaos.conftest import free_port, record_figures, worker_env
from tests.support.slow_proxy import HoldingProxy
from tests.support.worker import REPO, start_worker

pytestmark = [pytest.mark.cluster, pytest.mark.worker, pytest.mark.chaos]


def _pg_bin(name: str) -> str:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not versions:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql")
    return str(versions[-1] / name)


class PrivatePostgres:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        as_postgres = os.geteuid() == 0
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
            os.chmod(root, 0o700)
            # tmp_path's parents must be traversable by postgres
            for parent in root.parents:
                if str(parent) in ("/", "/tmp"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o711)  # noqa: S103 - traverse only
        self._prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "sidestage", "-A", "trust")

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._prefix, *argv], capture_output=True, timeout=120, text=True)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise AssertionError(
                f"{argv[0]} {' '.join(argv[1:3])}... exited {done.returncode}:\n"
                f"{done.stdout}{done.stderr}\nserver.log:\n{tail}"
            )

    @property
    def url(self) -> str:
        return f"postgres://sidestage@127.0.0.1:{self.port}/chaos"

    def pg_ctl(self, *args: str) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            *args,
        )

    def restart(self) -> None:
        """A fast shutdown, then a start on the same port. The start is tried again
        (up to 3 times) when the port is not free yet: on a busy machine the old
        server's socket can linger a moment after pg_ctl reports it stopped."""
        self.pg_ctl("stop", "-m", "fast")
        for attempt in range(3):
            try:
                self.pg_ctl("start")
                return
            except AssertionError:
                if attempt == 2:
                    raise
                time.sleep(1.0)

    def stop(self) -> None:
        subprocess.run(
            [*self._prefix, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )


def test_postgres_restarted_mid_reconcile(world, cluster_world, kube_cluster, tmp_path):
    cw = cluster_world
    pg = PrivatePostgres(tmp_path / "pg")
    pg.pg_ctl("start")
    try:
        with psycopg.connect(
            f"postgres://sidestage@127.0.0.1:{pg.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE chaos")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SIDESTAGE_", "KUBE"))},
            "DATABASE_URL": pg.url,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
        py = str(REPO / ".venv" / "bin" / "python")
        subprocess.run(
            [py, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True, timeout=300
        )

        # A proxy in front of the API server holds the worker's first call: the
        # reconcile is then inside its transaction, with the row locked.
        server = urlsplit(
            json.loads(Path(kube_cluster.kubeconfig).read_text())["clusters"][0]["cluster"][
                "server"
            ]
        )
        proxy = HoldingProxy(server.hostname, server.port)
        config = json.loads(Path(kube_cluster.kubeconfig).read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        kubeconfig = tmp_path / "kc.json"
        kubeconfig.write_text(json.dumps(config))
        proxy.hold.set()
        worker = start_worker(
            tmp_path / "worker.log",
            pool="prefork",
            concurrency=2,
            database_url=pg.url,
            **worker_env(
                kube_cluster,
                tmp_path,
                SIDESTAGE_KUBECONFIG=str(kubeconfig),
                SIDESTAGE_KUBE_CONNECT_TIMEOUT="8",
                SIDESTAGE_KUBE_READ_TIMEOUT="8",
                SIDESTAGE_RECONCILE_BUDGET_SECONDS="9",
            ),
        )
        try:
            worker.wait_ready()
            seeded = subprocess.run(
                [py, str(Path(__file__).with_name("pg_seed.py")), cw.namespace, "3"],
                cwd=REPO,
                env={**env, "PYTHONPATH": str(REPO)},
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
            sandboxes = [json.loads(line) for line in seeded.stdout.splitlines() if line]
            assert proxy.held.wait(60), f"the worker never called the API:\n{worker.log}"
            t0 = time.monotonic()
            pg.restart()
            restarted = time.monotonic() - t0
            proxy.release()

            def states() -> dict[str, tuple[str, int, int]]:
                with psycopg.connect(pg.url, autocommit=True) as conn:
                    rows = conn.execute(
                        "SELECT routing_key, conditions, observed_generation, generation "
                        "FROM sandboxes_sandbox"
                    ).fetchall()
                out = {}
                for key, conditions, observed, generation in rows:
                    ready = next((c for c in conditions or [] if c["type"] == "Ready"), {})
                    out[key] = (ready.get("status", "Unknown"), observed, generation)
                return out

            deadline = time.monotonic() + 120
            while not all(s[0] == "True" for s in states().values()):
                assert time.monotonic() < deadline, f"{states()}\n{worker.log[-6000:]}"
                assert worker.process.poll() is None, worker.log[-6000:]
                time.sleep(0.5)
            converged = time.monotonic() - t0
            log = worker.log
            # The run caught by the restart met the dead connection and ran again.
            assert "database error, retrying" in log or "database unavailable, retrying" in log, (
                log[-6000:]
            )
        finally:
            worker.stop()
            proxy.close()

        vs = cw.cluster.get(
            "networking.istio.io/v1", "VirtualService", shared_route_name("web"), cw.namespace
        )
        names = [rule["name"] for rule in vs["spec"]["http"]]
        assert sorted(names[:-1]) == sorted(sandbox_rule_name(s["key"]) for s in sandboxes)
        deployments = cw.cluster.list(
            "apps/v1", "Deployment", label_selector=SANDBOX_LABEL, namespace=cw.namespace
        )
        assert sorted(d["metadata"]["name"] for d in deployments) == sorted(
            fork_object_name("web", s["key"]) for s in sandboxes
        )
        record_figures(
            "postgres restarted mid-reconcile",
            sandboxes=len(sandboxes),
            restart_seconds=round(restarted, 1),
            converged_after_restart_seconds=round(converged - restarted, 1),
        )
    finally:
        pg.stop()
