"""A real, local Kubernetes control plane for the test suite, built from Go modules.

Entry point: ``scripts/k8s-testenv {build,up,down,kubeconfig,status}`` (and
``kill-apiserver`` / ``start-apiserver`` for the chaos tests). See
``docs/testing-cluster.md`` for the why; this module is the how.

- ``build`` compiles etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
  KWOK from published Go modules into ``~/.cache/sidestage/k8s-<versions>/bin`` and
  fetches the Istio and Gateway API CRDs (through ``scripts/fetch-crds``).
- ``up`` starts them on loopback, on free ports, with freshly generated certificates,
  installs the CRDs and registers fake KWOK nodes. State lives in a run dir
  (``var/k8s-testenv`` unless ``SIDESTAGE_K8S_RUN_DIR`` says otherwise).
- ``down`` stops every process group it started and checks that none survived.

Every command is idempotent. Only the standard library and PyYAML are used, so that the
script runs before (and without) the rest of the project.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from controlplane import bring_up, is_up, kill_apiserver, start_apiserver
from gobuild import build_all
from layout import (
    COMPONENTS,
    RUN_DIR_ENTRIES,
    RunDir,
    TestenvError,
    bin_dir,
    default_run_dir,
    log,
    missing_binaries,
)
from processes import running_pids, stop, watch_owner


def cmd_build(_: argparse.Namespace) -> None:
    build_all()


def cmd_up(args: argparse.Namespace) -> None:
    run = RunDir(Path(args.run_dir).resolve())
    bring_up(run, allow_build=not args.no_build, owner_pid=args.owner_pid)


def cmd_watchdog(args: argparse.Namespace) -> None:
    watch_owner(RunDir(Path(args.run_dir).resolve()), args.owner_pid, args.up_pid)


def cmd_down(args: argparse.Namespace) -> None:
    run = RunDir(Path(args.run_dir).resolve())
    survivors = stop(run)
    if survivors:
        raise TestenvError(f"processes still running after down: {survivors}")
    if args.purge:
        purge(run)
    log(f"down; no processes left for {run.root}")


def purge(run: RunDir) -> None:
    # --run-dir is caller-supplied; only a directory that looks like one of ours is
    # deleted, so a typo can never remove something else.
    entries = {entry.name for entry in run.root.iterdir()} if run.root.is_dir() else set()
    if entries - RUN_DIR_ENTRIES:
        raise TestenvError(
            f"not purging {run.root}: unexpected {sorted(entries - RUN_DIR_ENTRIES)}"
        )
    shutil.rmtree(run.root, ignore_errors=True)


def cmd_kubeconfig(args: argparse.Namespace) -> None:
    run = RunDir(Path(args.run_dir).resolve())
    if not is_up(run):
        raise TestenvError(f"not up (run dir {run.root}); run `scripts/k8s-testenv up`")
    print(run.kubeconfig)


def cmd_kill_apiserver(args: argparse.Namespace) -> None:
    kill_apiserver(RunDir(Path(args.run_dir).resolve()))
    log("kube-apiserver killed")


def cmd_start_apiserver(args: argparse.Namespace) -> None:
    seconds = start_apiserver(RunDir(Path(args.run_dir).resolve()))
    log(f"kube-apiserver ready again in {seconds:.1f}s")


def cmd_status(args: argparse.Namespace) -> None:
    run = RunDir(Path(args.run_dir).resolve())
    missing = missing_binaries()
    print(f"binaries: {bin_dir()} ({'missing ' + ', '.join(missing) if missing else 'complete'})")
    pids = running_pids(run)
    print(f"run dir: {run.root}")
    for component in COMPONENTS:
        print(f"  {component}: {'pid ' + str(pids[component]) if component in pids else 'stopped'}")
    print(f"up: {is_up(run)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s-testenv", description=__doc__.split("\n\n")[0])
    # Accepted before or after the command (`--run-dir X up` and `up --run-dir X`).
    run_dir = argparse.ArgumentParser(add_help=False)
    run_dir.add_argument(
        "--run-dir",
        default=argparse.SUPPRESS,
        help="state dir (certs, etcd data, logs, pids, kubeconfig); env SIDESTAGE_K8S_RUN_DIR",
    )
    parser.add_argument("--run-dir", default=str(default_run_dir()), help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build and cache the binaries, fetch the CRDs")
    up = commands.add_parser(
        "up", parents=[run_dir], help="start the control plane (builds first if needed)"
    )
    up.add_argument("--no-build", action="store_true", help="fail instead of building")
    up.add_argument(
        "--owner-pid", type=int, help="stop the plane when this process exits (test sessions)"
    )
    watchdog = commands.add_parser("watchdog", parents=[run_dir])  # internal, see --owner-pid
    watchdog.add_argument("--owner-pid", type=int, required=True)
    watchdog.add_argument("--up-pid", type=int, required=True)
    down = commands.add_parser("down", parents=[run_dir], help="stop every process of the run dir")
    down.add_argument("--purge", action="store_true", help="also delete the run dir")
    commands.add_parser(
        "kubeconfig", parents=[run_dir], help="print the kubeconfig path of a running plane"
    )
    commands.add_parser("status", parents=[run_dir], help="show what is built and what is running")
    commands.add_parser(
        "kill-apiserver", parents=[run_dir], help="SIGKILL the kube-apiserver (chaos tests)"
    )
    commands.add_parser(
        "start-apiserver", parents=[run_dir], help="start it again, same port (chaos tests)"
    )
    args = parser.parse_args(argv)
    handlers = {
        "build": cmd_build,
        "up": cmd_up,
        "down": cmd_down,
        "kubeconfig": cmd_kubeconfig,
        "status": cmd_status,
        "watchdog": cmd_watchdog,
        "kill-apiserver": cmd_kill_apiserver,
        "start-apiserver": cmd_start_apiserver,
    }
    try:
        handlers[args.command](args)
    except TestenvError as error:
        log(f"ERROR: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
