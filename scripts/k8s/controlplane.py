"""Start and check the control plane of one run dir (stopping it is in ``processes``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gobuild import build_all, fetch_crds
from layout import (
    COMPONENTS,
    ETCD_VERSION,
    FAKE_NODES,
    FIELD_MANAGER,
    K8S_VERSION,
    KWOK_VERSION,
    SERVICE_CIDR,
    RunDir,
    TestenvError,
    bin_dir,
    log,
    missing_binaries,
    tail_text,
)
from pki import generate_pki, write_kubeconfig
from processes import (
    is_ours,
    pid_alive,
    read_log,
    running_pids,
    signal_group,
    spawn,
    spawn_watchdog,
    stop,
)


def free_port() -> int:
    # The port is released before the component binds it; the window is tiny and a
    # clash shows up as a failed health check with the log tail, not as a silent hang.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Api:
    """Just enough of a Kubernetes client over urllib for bring-up chores."""

    def __init__(self, run: RunDir, server: str) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(run.pki / "ca.crt"))
        self.context.load_cert_chain(str(run.pki / "admin.crt"), str(run.pki / "admin.key"))

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        # The server URL is our own https:// apiserver address, never user input.
        req = urllib.request.Request(self.server + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as response:  # noqa: S310
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw = error.read()
            status = error.code
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text

    def apply(self, path: str, body: dict[str, Any]) -> None:
        """Server-side apply, forced: bring-up owns these objects outright."""
        status, answer = self.request(
            "PATCH",
            f"{path}?fieldManager={FIELD_MANAGER}&force=true",
            body,
            "application/apply-patch+yaml",
        )
        if status >= 300:
            raise TestenvError(f"apply {path} -> HTTP {status}: {answer}")


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=3) as response:  # noqa: S310
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def kill_apiserver(run: RunDir) -> None:
    """SIGKILL the kube-apiserver, as a crash would; etcd and the rest keep running.
    The chaos tests use this with `start_apiserver` to take the API away and back."""
    pid = int(run.pid_file("kube-apiserver").read_text())
    if not is_ours(pid):
        raise TestenvError(f"pid {pid} is not this plane's kube-apiserver")
    signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        raise TestenvError(f"kube-apiserver pid {pid} survived SIGKILL")


def start_apiserver(run: RunDir) -> float:
    """Start the kube-apiserver again with the argv it was first started with (the same
    port, certificates and etcd); returns the seconds until /readyz answered."""
    pid_file = run.pid_file("kube-apiserver")
    with contextlib.suppress(FileNotFoundError, ValueError):
        if is_ours(int(pid_file.read_text())):
            raise TestenvError("kube-apiserver is already running")
    argv = json.loads(pid_file.with_suffix(".argv").read_text())
    spawn(run, "kube-apiserver", argv)
    state = load_state(run) or {}
    context = ssl.create_default_context(cafile=str(run.pki / "ca.crt"))
    context.load_cert_chain(str(run.pki / "admin.crt"), str(run.pki / "admin.key"))
    return wait_until(
        run, "kube-apiserver", lambda: http_ok(f"{state['server']}/readyz", context), 120, "ready"
    )


def wait_until(
    run: RunDir, component: str, ready: Callable[[], bool], timeout: float, what: str
) -> float:
    started = time.monotonic()
    pid = int(run.pid_file(component).read_text())
    while time.monotonic() - started < timeout:
        if ready():
            return time.monotonic() - started
        if not pid_alive(pid):
            break
        time.sleep(0.2)
    raise TestenvError(
        f"{component} did not become {what} within {timeout:.0f}s "
        f"(pid {pid} {'running' if pid_alive(pid) else 'exited'}); "
        f"tail of {run.log_file(component)}:\n{tail_text(read_log(run, component), 30)}"
    )


def load_state(run: RunDir) -> dict[str, Any] | None:
    try:
        return json.loads(run.state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_up(run: RunDir) -> bool:
    state = load_state(run)
    if state is None or set(running_pids(run)) != set(COMPONENTS):
        return False
    context = ssl.create_default_context(cafile=str(run.pki / "ca.crt"))
    context.load_cert_chain(str(run.pki / "admin.crt"), str(run.pki / "admin.key"))
    return http_ok(state["server"] + "/readyz", context)


def bring_up(run: RunDir, *, allow_build: bool, owner_pid: int | None = None) -> None:
    """Start the control plane in ``run`` unless it is already up; print the kubeconfig.

    With ``owner_pid``, a watchdog stops the plane once that process is gone, so a test
    session that is killed outright (CI timeout, SIGKILL) leaves nothing running.
    """
    if is_up(run):
        log(f"already up; kubeconfig: {run.kubeconfig}")
        if owner_pid is not None:
            spawn_watchdog(run, owner_pid, up_pid=os.getpid())
        print(run.kubeconfig)
        return
    if running_pids(run):
        log("found a partial control plane from an earlier run; stopping it first")
        stop(run)
    missing = missing_binaries()
    if missing:
        if not allow_build:
            raise TestenvError(
                f"not built: {', '.join(missing)} missing in {bin_dir()}; "
                "run `scripts/k8s-testenv build` first"
            )
        build_all()
    crds = fetch_crds()
    started = time.monotonic()
    timings: dict[str, float] = {}
    reset_run_dir(run)
    # Watch the owner from before the first spawn: an owner killed while `up` is still
    # starting things must not leave half a plane behind.
    if owner_pid is not None:
        spawn_watchdog(run, owner_pid, up_pid=os.getpid())
    try:
        start_control_plane(run, timings)
        api = Api(run, load_state(run)["server"])  # type: ignore[index]
        timings["crds"] = install_crds(api, crds)
        timings["nodes"] = register_fake_nodes(api)
    except BaseException:
        log("start-up failed; stopping what was started")
        stop(run)
        raise
    detail = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
    log(f"up in {time.monotonic() - started:.1f}s ({detail}); kubeconfig: {run.kubeconfig}")
    print(run.kubeconfig)


def reset_run_dir(run: RunDir) -> None:
    # etcd data from an earlier run would resurrect its objects; each `up` starts clean.
    # The PKI is kept: regenerating it buys nothing and costs a second.
    for stale in ("etcd", "logs", "pids", "controller-manager", "scheduler"):
        shutil.rmtree(run.root / stale, ignore_errors=True)
    for directory in (run.root, run.logs, run.pids):
        directory.mkdir(parents=True, exist_ok=True)


def start_control_plane(run: RunDir, timings: dict[str, float]) -> None:
    bins = bin_dir()
    generate_pki(run.pki)
    pki = run.pki

    etcd_port, etcd_peer, apiserver_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    spawn(
        run,
        "etcd",
        [
            str(bins / "etcd"),
            "--name=sidestage",
            f"--data-dir={run.root / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=sidestage=http://127.0.0.1:{etcd_peer}",
            # Test data is disposable; fsync is what makes etcd slow on CI disks.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
    )
    timings["etcd"] = wait_until(run, "etcd", lambda: http_ok(f"{etcd_url}/health"), 60, "healthy")

    server = f"https://127.0.0.1:{apiserver_port}"
    spawn(
        run,
        "kube-apiserver",
        [
            str(bins / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={apiserver_port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            # The advertise address is loopback, which the endpoints of the `kubernetes`
            # Service may not hold; nothing in the tests dials that Service.
            "--endpoint-reconciler-type=none",
            "--v=1",
        ],
    )
    admin_context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    admin_context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    timings["kube-apiserver"] = wait_until(
        run, "kube-apiserver", lambda: http_ok(f"{server}/readyz", admin_context), 120, "ready"
    )
    write_kubeconfig(run, server)
    kubeconfig = str(run.kubeconfig)

    controller_port, scheduler_port = free_port(), free_port()
    # Delegated authentication/authorization through the admin kubeconfig; without it
    # the components look for in-cluster config, which does not exist here.
    delegated = [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        # No front proxy here, so there is no request-header CA to look up; the lookup
        # would only fill the logs with "missing content for CA bundle".
        "--authentication-skip-lookup=true",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
    ]
    spawn(
        run,
        "kube-controller-manager",
        [
            str(bins / "kube-controller-manager"),
            *delegated,
            f"--secure-port={controller_port}",
            f"--cert-dir={run.root / 'controller-manager'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--use-service-account-credentials=false",
            "--v=1",
        ],
    )
    spawn(
        run,
        "kube-scheduler",
        [
            str(bins / "kube-scheduler"),
            *delegated,
            f"--secure-port={scheduler_port}",
            f"--cert-dir={run.root / 'scheduler'}",
            "--v=1",
        ],
    )
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # self-signed serving certs of the two components
    timings["kube-controller-manager"] = wait_until(
        run,
        "kube-controller-manager",
        lambda: http_ok(f"https://127.0.0.1:{controller_port}/healthz", insecure),
        60,
        "healthy",
    )
    timings["kube-scheduler"] = wait_until(
        run,
        "kube-scheduler",
        lambda: http_ok(f"https://127.0.0.1:{scheduler_port}/healthz", insecure),
        60,
        "healthy",
    )

    kwok_port = free_port()
    spawn(
        run,
        "kwok",
        [
            str(bins / "kwok"),
            f"--kubeconfig={kubeconfig}",
            # Only nodes we register as fake; a shared cluster's real nodes stay untouched.
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.244.0.0/16",
            "--node-ip=10.244.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{kwok_port}",
        ],
    )
    timings["kwok"] = wait_until(
        run, "kwok", lambda: http_ok(f"http://127.0.0.1:{kwok_port}/healthz"), 60, "healthy"
    )
    state = {
        "server": server,
        "kubeconfig": kubeconfig,
        "etcd": etcd_url,
        "versions": {"kubernetes": K8S_VERSION, "etcd": ETCD_VERSION, "kwok": KWOK_VERSION},
    }
    run.state_file.write_text(json.dumps(state, indent=2) + "\n")


def install_crds(api: Api, crd_dir: Path) -> float:
    import yaml  # PyYAML; the only non-stdlib import, needed to read the CRD bundles.

    started = time.monotonic()
    documents: list[dict[str, Any]] = []
    for path in [crd_dir / "istio.yaml", *sorted((crd_dir / "gateway-api").glob("*.yaml"))]:
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    crds = [doc for doc in documents if doc.get("kind") == "CustomResourceDefinition"]
    base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    # Concurrent applies overlap the round trips; the apiserver does the heavy part
    # (schema compilation) per CRD either way.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda crd: api.apply(f"{base}/{crd['metadata']['name']}", crd), crds))
    # A CRD is usable only once Established; tests must not race the discovery update.
    pending = {crd["metadata"]["name"] for crd in crds}
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            status, crd = api.request("GET", f"{base}/{name}")
            if status == 200 and has_condition(crd, "Established"):
                pending.discard(name)
        if pending:
            time.sleep(0.2)
    if pending:
        raise TestenvError(f"CRDs not Established after 60s: {', '.join(sorted(pending))}")
    log(f"installed {len(crds)} CRDs from {crd_dir}")
    return time.monotonic() - started


def has_condition(obj: dict[str, Any], condition: str) -> bool:
    # A fresh object can carry `conditions: null` until its controller first reports.
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == condition and c["status"] == "True" for c in conditions)


def register_fake_nodes(api: Api) -> float:
    started = time.monotonic()
    for name in FAKE_NODES:
        api.apply(
            f"/api/v1/nodes/{name}",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {
                        "kwok.x-k8s.io/node": "fake",
                        "node.alpha.kubernetes.io/ttl": "0",
                    },
                    "labels": {
                        "type": "kwok",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                    },
                },
                # No taint: the reconciler's Deployments must schedule here unmodified.
                "spec": {},
            },
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = 0
        for name in FAKE_NODES:
            status, node = api.request("GET", f"/api/v1/nodes/{name}")
            ready += status == 200 and has_condition(node, "Ready")
        if ready == len(FAKE_NODES):
            return time.monotonic() - started
        time.sleep(0.2)
    raise TestenvError("kwok did not mark the fake nodes Ready within 60s; see logs/kwok.log")
