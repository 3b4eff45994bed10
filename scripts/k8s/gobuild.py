"""Build etcd, the Kubernetes control-plane commands and KWOK from published Go modules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from layout import (
    ETCD_VERSION,
    K8S_VERSION,
    KUBE_COMMANDS,
    KWOK_VERSION,
    SCRIPTS_DIR,
    TestenvError,
    bin_dir,
    build_dir,
    log,
    missing_binaries,
    tail_text,
)


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    # -trimpath keeps the Go build cache reusable across checkouts in different paths,
    # which is what makes a second CI run on the same machine cheap.
    env["GOFLAGS"] = " ".join(
        flag for flag in (env.get("GOFLAGS", ""), "-trimpath", "-buildvcs=false") if flag
    )
    # Static binaries, as upstream ships them; no C toolchain needed.
    env["CGO_ENABLED"] = "0"
    # Build with the installed Go; never fetch another toolchain behind the caller's back.
    env.setdefault("GOTOOLCHAIN", "local")
    return env


def run_go(args: Sequence[str], cwd: Path, what: str) -> str:
    command = ["go", *args]
    result = subprocess.run(
        command, cwd=cwd, env=go_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise TestenvError(
            f"{what} failed: `{' '.join(command)}` (in {cwd}) exited {result.returncode}\n"
            f"{tail_text(result.stderr + result.stdout, 40)}"
        )
    return result.stdout


def module_download(module: str, scratch: Path) -> dict[str, Any]:
    out = run_go(["mod", "download", "-json", module], scratch, f"go mod download {module}")
    return json.loads(out)


def staging_replaces(kubernetes_go_mod: Path, k8s_version: str) -> list[tuple[str, str]]:
    """Map every staging module of k8s.io/kubernetes to its published twin.

    k8s.io/kubernetes requires its staging repos (k8s.io/api, k8s.io/client-go, ...) at
    v0.0.0 and points them at ./staging with replace directives. Replaces of a dependency
    are ignored, so a wrapper module has to say where they live: the published
    v0.<minor>.<patch> tags are cut from the same commit as v1.<minor>.<patch>.
    """
    published = "v0." + k8s_version.removeprefix("v").split(".", 1)[1]
    replaces = []
    for raw in kubernetes_go_mod.read_text().splitlines():
        line = raw.strip()
        if " => ./staging/" in line:
            module = line.split()[0]
            replaces.append((module, published))
    if not replaces:
        raise TestenvError(f"no staging replace directives found in {kubernetes_go_mod}")
    return replaces


def kube_wrapper_go_mod(k8s_version: str, replaces: Iterable[tuple[str, str]]) -> str:
    lines = [
        "module sidestage.dev/k8s-testenv/kube",
        "",
        # Same language version and GODEBUG defaults as upstream's own go.mod, so the
        # binaries behave like the released ones even when built with a newer Go.
        "go 1.24.0",
        "",
        "godebug default=go1.24",
        "",
        f"require k8s.io/kubernetes {k8s_version}",
        "",
        "replace (",
        *(f"\t{module} => {module} {version}" for module, version in replaces),
        ")",
        "",
    ]
    return "\n".join(lines)


def version_ldflags(k8s_version: str) -> str:
    major, minor = k8s_version.removeprefix("v").split(".")[:2]
    build_date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    values = {
        "gitVersion": k8s_version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    # Without these the binaries report v0.0.0-master, which clients (and the kwok
    # version checks) treat as "unknown" and which makes logs misleading.
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in values.items()]
    return " ".join(flags)


def build_kube(target_bin: Path, work: Path) -> None:
    todo = [name for name in KUBE_COMMANDS if not os.access(target_bin / name, os.X_OK)]
    if not todo:
        return
    src = work / "kube"
    src.mkdir(parents=True, exist_ok=True)
    info = module_download(f"k8s.io/kubernetes@{K8S_VERSION}", src)
    replaces = staging_replaces(Path(info["GoMod"]), K8S_VERSION)
    (src / "go.mod").write_text(kube_wrapper_go_mod(K8S_VERSION, replaces))
    # A package clause is all the wrapper module needs; the commands are built from the
    # dependency by import path.
    (src / "doc.go").write_text("// Package kube wraps k8s.io/kubernetes.\npackage kube\n")
    # `go get pkg@version` (not tidy: nothing imports a main package) fills go.mod and
    # go.sum with exactly what the three commands need.
    run_go(
        ["get", *(f"k8s.io/kubernetes/cmd/{name}@{K8S_VERSION}" for name in KUBE_COMMANDS)],
        src,
        "resolving k8s.io/kubernetes dependencies",
    )
    for name in todo:
        build_one(
            name,
            [
                "build",
                "-p",
                "2",
                "-ldflags",
                version_ldflags(K8S_VERSION),
                "-o",
                str(target_bin / f".{name}.tmp"),
                f"k8s.io/kubernetes/cmd/{name}",
            ],
            src,
            target_bin,
        )


def build_etcd(target_bin: Path, work: Path) -> None:
    if os.access(target_bin / "etcd", os.X_OK):
        return
    src = work / "etcd"
    src.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCRIPTS_DIR / "k8s" / "etcd" / "main.go", src / "main.go")
    (src / "go.mod").write_text("module sidestage.dev/k8s-testenv/etcd\n\ngo 1.24.0\n")
    run_go(["get", f"go.etcd.io/etcd/server/v3@{ETCD_VERSION}"], src, "resolving etcd")
    run_go(["mod", "tidy"], src, "go mod tidy for the etcd wrapper")
    build_one(
        "etcd",
        ["build", "-p", "2", "-ldflags", "-s -w", "-o", str(target_bin / ".etcd.tmp"), "."],
        src,
        target_bin,
    )


def build_kwok(target_bin: Path, work: Path) -> None:
    if os.access(target_bin / "kwok", os.X_OK):
        return
    # kwok's go.mod has no replace directives, so plain `go install` works; GOBIN points
    # at a scratch dir so that a half-written binary never lands in the cache.
    gobin = work / "gobin"
    gobin.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env_gobin = {"GOBIN": str(gobin)}
    command = ["go", "install", "-ldflags", "-s -w", f"sigs.k8s.io/kwok/cmd/kwok@{KWOK_VERSION}"]
    result = subprocess.run(
        command, cwd=work, env=go_env() | env_gobin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise TestenvError(
            f"building kwok failed: `{' '.join(command)}` exited {result.returncode}\n"
            f"{tail_text(result.stderr, 40)}"
        )
    os.replace(gobin / "kwok", target_bin / "kwok")
    log(f"built kwok {KWOK_VERSION} in {time.monotonic() - started:.0f}s")


def build_one(name: str, go_args: list[str], cwd: Path, target_bin: Path) -> None:
    started = time.monotonic()
    log(f"building {name} ...")
    run_go(go_args, cwd, f"building {name}")
    os.replace(target_bin / f".{name}.tmp", target_bin / name)
    log(f"built {name} in {time.monotonic() - started:.0f}s")


def fetch_crds() -> Path:
    result = subprocess.run(
        [str(SCRIPTS_DIR / "fetch-crds")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise TestenvError(f"scripts/fetch-crds failed:\n{tail_text(result.stderr, 20)}")
    return Path(result.stdout.strip().splitlines()[-1])


def build_all() -> None:
    """Build whatever is missing from the cache, then make sure the CRDs are fetched."""
    started = time.monotonic()
    if shutil.which("go") is None:
        raise TestenvError("Go is required to build the control plane (go.dev/dl, Go >= 1.24)")
    target_bin = bin_dir()
    target_bin.mkdir(parents=True, exist_ok=True)
    missing = missing_binaries()
    if missing:
        log(f"building {', '.join(missing)} into {target_bin} (cold: 10-20 min on 2 cores)")
    work = build_dir() / "src"
    # Each step is skipped when its binary exists, so an interrupted build resumes.
    build_etcd(target_bin, work)
    build_kwok(target_bin, work)
    build_kube(target_bin, work)
    crds = fetch_crds()
    elapsed = time.monotonic() - started
    state = "built" if missing else "cached"
    log(f"build: {state} in {elapsed:.1f}s; binaries in {target_bin}; CRDs in {crds}")
