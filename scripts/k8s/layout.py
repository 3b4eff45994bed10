"""Pinned versions and where the control plane keeps its binaries and state."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "scripts"

# One place for the pinned versions; the cache directory name is derived from them so
# that bumping any of them builds into a fresh directory instead of mixing binaries.
K8S_VERSION = os.environ.get("SIDESTAGE_K8S_VERSION", "v1.34.4")
ETCD_VERSION = os.environ.get("SIDESTAGE_ETCD_VERSION", "v3.6.16")
KWOK_VERSION = os.environ.get("SIDESTAGE_KWOK_VERSION", "v0.7.0")

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
FAKE_NODES = ("kwok-node-0", "kwok-node-1")
SERVICE_CIDR = "10.96.0.0/16"
FIELD_MANAGER = "sidestage-testenv"
# What `up` may create in a run dir; `down --purge` deletes nothing else.
RUN_DIR_ENTRIES = frozenset(
    {
        "pki",
        "etcd",
        "logs",
        "pids",
        "controller-manager",
        "scheduler",
        "state.json",
        "kubeconfig",
        "kubeconfig.tmp",
    }
)


def log(message: str) -> None:
    # The reader may be gone (a killed test session held the pipe); losing a progress
    # line must not abort a start-up or a clean-up halfway.
    with contextlib.suppress(OSError):
        print(f"k8s-testenv: {message}", file=sys.stderr, flush=True)


class TestenvError(RuntimeError):
    """A step failed in a way a person has to look at; the message says where."""


def cache_root() -> Path:
    explicit = os.environ.get("SIDESTAGE_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "sidestage"


def build_dir() -> Path:
    return cache_root() / f"k8s-{K8S_VERSION}_etcd-{ETCD_VERSION}_kwok-{KWOK_VERSION}"


def bin_dir() -> Path:
    return build_dir() / "bin"


def default_run_dir() -> Path:
    return Path(os.environ.get("SIDESTAGE_K8S_RUN_DIR") or REPO_ROOT / "var" / "k8s-testenv")


def missing_binaries() -> list[str]:
    return [name for name in COMPONENTS if not os.access(bin_dir() / name, os.X_OK)]


def tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


@dataclass(frozen=True)
class RunDir:
    """Everything one running control plane owns: certs, data, logs, pids, kubeconfig."""

    root: Path

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pid_file(self, component: str) -> Path:
        return self.pids / f"{component}.pid"
