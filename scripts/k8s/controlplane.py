"""Start, check and stop the control plane processes of one run dir."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
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


def spawn(run: RunDir, component: str, argv: list[str]) -> int:
    log_file = run.log_file(component).open("ab")
    # A new session detaches the component from the caller's terminal (Ctrl-C in the shell
    # that ran `up` must not take the plane down) and makes it a process-group leader, so
    # `down` signals exactly that group and nothing else.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=run.root,
    )
    log_file.close()
    run.pid_file(component).write_text(f"{process.pid}\n")
    # Kept so that a component can be restarted exactly as it was started (same port).
    run.pid_file(component).with_suffix(".argv").write_text(json.dumps(argv))
    return process.pid


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


def read_log(run: RunDir, component: str) -> str:
    try:
        return run.log_file(component).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (FileNotFoundError, IndexError):
        return False
    return True


def load_state(run: RunDir) -> dict[str, Any] | None:
    try:
        return json.loads(run.state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def running_pids(run: RunDir) -> dict[str, int]:
    pids = {}
    for component in COMPONENTS:
        try:
            pid = int(run.pid_file(component).read_text())
        except (FileNotFoundError, ValueError):
            continue
        if is_ours(pid):
            pids[component] = pid
    return pids


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


def our_leftovers(run: RunDir) -> list[int]:
    """Our binaries still running with this run dir in their command line.

    Every component is started with paths under the run dir, so the pair (executable in
    our cache, run dir in argv) singles out exactly this plane's processes, even when a
    pid file was lost (for example when `up` was killed mid-spawn).
    """
    result = subprocess.run(
        ["pgrep", "-f", re.escape(f"{run.root}/")], capture_output=True, text=True, check=False
    )
    return [pid for pid in (int(word) for word in result.stdout.split()) if is_ours(pid)]


def is_ours(pid: int) -> bool:
    """Is ``pid`` a live process running one of our cached binaries?"""
    try:
        executable = Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False
    return executable.parent == bin_dir() and pid_alive(pid)


def spawn_watchdog(run: RunDir, owner_pid: int, up_pid: int) -> None:
    stop_watchdog(run)
    argv = [
        sys.executable,
        str(Path(__file__).with_name("testenv.py")),
        "watchdog",
        f"--run-dir={run.root}",
        f"--owner-pid={owner_pid}",
        f"--up-pid={up_pid}",
    ]
    with run.log_file("watchdog").open("ab") as log_file:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run.pid_file("watchdog").write_text(f"{process.pid}\n")


def watch_owner(run: RunDir, owner_pid: int, up_pid: int, interval: float = 1.0) -> None:
    """Stop the plane once ``owner_pid`` has gone. A normal `down` kills this watcher."""
    while pid_alive(owner_pid):
        time.sleep(interval)
    # If the owner died while `up` was still starting components, stopping now would
    # race it; `up` finishes (or fails) within its own timeouts, so wait for it first.
    deadline = time.monotonic() + 600
    while pid_alive(up_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    log(f"owner pid {owner_pid} is gone; stopping the control plane in {run.root}")
    stop(run)


def stop_watchdog(run: RunDir) -> None:
    try:
        pid = int(run.pid_file("watchdog").read_text())
    except (FileNotFoundError, ValueError):
        return
    # The watchdog runs Python, not one of our binaries, so it is recognised by its
    # command line instead; and the watchdog itself calls stop(), hence the getpid check.
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    if pid != os.getpid() and b"watchdog" in argv and f"--run-dir={run.root}".encode() in argv:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    run.pid_file("watchdog").unlink(missing_ok=True)


def stop(run: RunDir, grace: float = 10.0) -> list[int]:
    """Stop every component's process group; return the pids that would not die."""
    stop_watchdog(run)
    groups: dict[str, int] = {}
    # Reverse start order, so that clients go before the apiserver and etcd goes last.
    for component in reversed(COMPONENTS):
        try:
            pid = int(run.pid_file(component).read_text())
        except (FileNotFoundError, ValueError):
            continue
        # A pid file can outlive its process (a reboot, a crash); never signal a pid that
        # has since been reused by something else.
        if is_ours(pid):
            groups[component] = pid
            signal_group(pid, signal.SIGTERM)
        else:
            run.pid_file(component).unlink(missing_ok=True)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in groups.values()):
        time.sleep(0.1)
    for component, pid in groups.items():
        if pid_alive(pid):
            signal_group(pid, signal.SIGKILL)
        run.pid_file(component).unlink(missing_ok=True)
    for pid in our_leftovers(run):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    run.state_file.unlink(missing_ok=True)
    return our_leftovers(run)


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
