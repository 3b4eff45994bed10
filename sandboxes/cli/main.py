"""`sidestage`: create, wait for, inspect and delete sandboxes from CI.

Reads SIDESTAGE_URL and SIDESTAGE_TOKEN from the environment. Exit codes:
0 success (for `wait`: Ready, or Rendered in a portal without a cluster), 1 the request
was refused or the sandbox failed (or was rejected), 2 usage or configuration error,
3 timed out waiting (also while a prod-like sandbox awaits approval), 4 the API could
not be reached or answered 5xx.
"""

from __future__ import annotations

import json
import math
import sys
import time
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml

from sandboxes.cli.client import ApiError, Client, ConfigError


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    TIMEOUT = 3
    UNAVAILABLE = 4


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    name = "name"


class SnippetFormat(StrEnum):
    curl = "curl"
    baggage = "baggage"
    header = "header"
    modheader = "modheader"
    mirrord = "mirrord"
    dtab = "dtab"
    httpie = "httpie"
    grpcurl = "grpcurl"
    python_requests = "python-requests"
    javascript_fetch = "javascript-fetch"
    opentelemetry_python = "opentelemetry-python"
    postman = "postman"


class Window(StrEnum):
    """The windows the traffic check offers (sandboxes.telemetry.WINDOWS)."""

    m1 = "1m"
    m5 = "5m"
    m15 = "15m"
    h1 = "1h"
    h6 = "6h"
    h24 = "24h"


# The server holds each wait request at most this long, so the progress line moves.
WAIT_CHUNK_SECONDS = 10

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
sandbox_app = typer.Typer(
    help="Create, inspect, wait for and delete sandboxes.", no_args_is_help=True
)
app.add_typer(sandbox_app, name="sandbox")

OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table, json, yaml or name.")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant: name or team/name (if ambiguous).")
]


def fail(message: str, code: Exit) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(int(code))


def client() -> Client:
    try:
        return Client.from_env()
    except ConfigError as exc:
        fail(f"error: {exc}", Exit.USAGE)


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        fail(exc.describe(), Exit.UNAVAILABLE if exc.unavailable else Exit.FAILED)


def emit(data: Any, output: Output, table: Any = None) -> None:
    if output is Output.json:
        typer.echo(json.dumps(data, indent=2, sort_keys=False))
    elif output is Output.yaml:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    elif output is Output.name:
        items = data if isinstance(data, list) else [data]
        for item in items:
            typer.echo(item["name"])
    else:
        typer.echo(table(data) if table else json.dumps(data, indent=2))


def ready_text(sandbox: dict[str, Any]) -> str:
    for cond in sandbox.get("status", {}).get("conditions", []):
        if cond.get("type") == "Ready":
            reason = f" ({cond['reason']})" if cond.get("reason") else ""
            return f"Ready={cond['status']}{reason}"
    return "Ready=Unknown"


def sandbox_table(items: list[dict[str, Any]] | dict[str, Any]) -> str:
    rows = items if isinstance(items, list) else [items]
    header = ("NAME", "TENANT", "PROFILE", "FORKS", "STATUS", "GEN", "EXPIRES", "ROUTING KEY")
    lines = [header]
    for sb in rows:
        lines.append(
            (
                sb["name"],
                f"{sb['team']}/{sb['tenant']}",
                sb["profile"],
                ",".join(f["service"] for f in sb["forks"]),
                "Deleting" if sb.get("deletionRequestedAt") else ready_text(sb),
                f"{sb['observedGeneration']}/{sb['generation']}",
                sb["expiresAt"],
                sb["routingKey"],
            )
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )


def load_document(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"error: cannot read {path}: {exc.strerror}", Exit.USAGE)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        fail(f"error: {path} is not valid YAML or JSON: {exc}", Exit.USAGE)
    if not isinstance(document, dict):
        fail(f"error: {path} must hold one sandbox document (a mapping).", Exit.USAGE)
    if not isinstance(document.get("name"), str) or not document["name"]:
        fail(f"error: {path} has no `name`.", Exit.USAGE)
    return document


def wait_until_done(
    api: Client, name: str, tenant: str | None, timeout: int, output: Output
) -> dict[str, Any]:
    """Loop bounded long-polls; one progress line on stderr; exits on failure/timeout."""
    start = time.monotonic()
    deadline = start + timeout
    tty = sys.stderr.isatty()
    while True:
        remaining = math.ceil(deadline - time.monotonic())
        outcome = call(api.wait_once, name, max(0, min(remaining, WAIT_CHUNK_SECONDS)), tenant)
        sandbox = outcome["sandbox"]
        elapsed = int(time.monotonic() - start)
        state = (
            "awaiting a lead's approval"
            if outcome["reason"] == "AwaitingApproval"
            else ready_text(sandbox)
        )
        line = f"waiting for {name}: {state} ({elapsed}s/{timeout}s)"
        typer.echo(f"\r{line}\033[K" if tty else line, err=True, nl=not tty)
        if outcome["result"] != "timeout" or remaining <= 0:
            break
    if tty:
        typer.echo("", err=True)
    if outcome["result"] == "ready":
        return sandbox
    if outcome["result"] == "rendered":
        # No cluster: the manifests are the product. Done, and said so.
        typer.echo(f"{name}: rendered, not deployed: {outcome['message']}", err=True)
        return sandbox
    emit(sandbox, output, sandbox_table)
    if outcome["result"] == "failed":
        fail(f"error: {name} failed: {outcome['reason']}: {outcome['message']}", Exit.FAILED)
    if outcome["reason"] == "AwaitingApproval":
        fail(
            f"error: timed out after {timeout}s: {name} is still awaiting a lead's approval.",
            Exit.TIMEOUT,
        )
    fail(
        f"error: timed out after {timeout}s waiting for {name} to be Ready "
        f"({ready_text(sandbox)}).",
        Exit.TIMEOUT,
    )


@sandbox_app.command("apply")
def apply(
    file: Annotated[str, typer.Option("--file", "-f", help="YAML or JSON document; - for stdin.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until Ready.")] = False,
    timeout: Annotated[int, typer.Option("--timeout", min=0, help="Seconds to wait.")] = 300,
    tenant: TenantOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create or update a sandbox from a document (idempotent: re-run it freely)."""
    document = load_document(file)
    api = client()
    sandbox = call(api.apply, document, tenant)
    if wait:
        ref = tenant or f"{sandbox['team']}/{sandbox['tenant']}"
        sandbox = wait_until_done(api, sandbox["name"], ref, timeout, output)
    emit(sandbox, output, sandbox_table)


@sandbox_app.command("list")
def list_(
    tenant: TenantOpt = None,
    condition: Annotated[list[str] | None, typer.Option(help="e.g. Ready or Ready=False.")] = None,
    service: Annotated[list[str] | None, typer.Option(help="Forks this service.")] = None,
    label: Annotated[list[str] | None, typer.Option(help="key or key=value.")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List the sandboxes you can see."""
    items = call(
        client().list_sandboxes,
        tenant=tenant,
        condition=condition or [],
        service=service or [],
        label=label or [],
    )
    emit(items, output, sandbox_table)


@sandbox_app.command("get")
def get(name: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Show one sandbox."""
    emit(call(client().get, name, tenant), output, sandbox_table)


@sandbox_app.command("delete")
def delete(
    name: str,
    tenant: TenantOpt = None,
    output: OutputOpt = Output.name,
    ignore_not_found: Annotated[
        bool,
        typer.Option(
            "--ignore-not-found", help="Exit 0 if there is no such sandbox (as kubectl does)."
        ),
    ] = False,
) -> None:
    """Delete a sandbox (idempotent while it exists; see --ignore-not-found)."""
    try:
        deleted = client().delete(name, tenant)
    except ApiError as exc:
        if ignore_not_found and exc.status == 404:
            typer.echo(f"{name}: not found, nothing to delete.", err=True)
            return
        fail(exc.describe(), Exit.UNAVAILABLE if exc.unavailable else Exit.FAILED)
    emit(deleted, output, sandbox_table)


@sandbox_app.command("extend")
def extend(
    name: str,
    ttl: Annotated[str, typer.Option("--ttl", help="New lifetime from now: 3600, 90m, 8h, 2d.")],
    tenant: TenantOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Set a sandbox to expire TTL from now."""
    # ASCII digits only: "²".isdigit() is True and int("²") raises.
    value: str | int = int(ttl) if ttl.isascii() and ttl.isdigit() else ttl
    emit(call(client().extend, name, value, tenant), output, sandbox_table)


@sandbox_app.command("wait")
def wait_cmd(
    name: str,
    timeout: Annotated[int, typer.Option("--timeout", min=0, help="Seconds to wait.")] = 300,
    tenant: TenantOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Wait until a sandbox is Ready (exit 0), failed (1) or the timeout passes (3)."""
    emit(wait_until_done(client(), name, tenant, timeout, output), output, sandbox_table)


@app.command("snippet")
def snippet(
    name: str,
    fmt: Annotated[SnippetFormat, typer.Option("--format", "-F", help="Snippet format.")] = (
        SnippetFormat.curl
    ),
    tenant: TenantOpt = None,
    url: Annotated[str | None, typer.Option(help="The URL the snippet calls.")] = None,
    output: Annotated[Output | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Print a snippet that sends requests with the sandbox's routing key."""
    body = call(client().snippet, name, fmt.value, tenant, url)
    if output in (Output.json, Output.yaml):
        emit(body, output)
    else:
        typer.echo(body["content"])


def traffic_text(body: dict[str, Any]) -> str:
    """The routing check for people: findings first, then hops and per-fork counts."""
    lines = [f"{body['sandbox']}: the last {body['window']}, from {body['telemetry']['source']}"]
    for f in body["findings"]:
        lines.append(f"{f['severity'].upper()}: {f['message']}")
        lines += [f"  {link['title']}: {link['url']}" for link in f["links"]]
    if not body["findings"]:
        lines.append("OK: every hop kept the routing key.")
    for hop in body["hops"]:
        lines.append(
            f"hop {hop['from']} -> {hop['to']}: {hop['status']} "
            f"(fork {hop['toFork']:g}, baseline {hop['toBaseline']:g})"
        )
    for row in body["forks"]:
        rate = "-" if row["errorRate"] is None else f"{row['errorRate']:.0%}"
        base = "-" if row["baselineErrorRate"] is None else f"{row['baselineErrorRate']:.0%}"
        sources = ", ".join(f"{s['workload']} {s['requests']:g}" for s in row["sources"]) or "-"
        lines.append(
            f"fork {row['service']}: {row['requests']:g} requests (errors {rate}, "
            f"baseline {base}) from {sources}"
        )
    return "\n".join(lines)


@app.command("traffic")
def traffic(
    name: str,
    window: Annotated[Window, typer.Option("--window", "-w", help="How far back.")] = Window.m15,
    tenant: TenantOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Which hop dropped the routing key, from the mesh's request counts. Exits 1 when a
    hop dropped it, 2 when the portal has no telemetry configured, 4 when the telemetry
    backend is unavailable."""
    body = call(client().traffic, name, window.value, tenant)
    if body["telemetry"]["state"] == "not_configured":
        if output in (Output.json, Output.yaml):
            emit(body, output)
        message = body["telemetry"]["message"]
        how = f"\n\n{body['howToTest']}" if body.get("howToTest") else ""
        fail(f"error: {message}{how}\n\n{body['telemetry']['manualQuery']}", Exit.USAGE)
    emit(body, output, traffic_text)
    if body["keyDropped"]:
        raise typer.Exit(int(Exit.FAILED))


def main() -> None:
    """Console-script entry point."""
    app(prog_name="sidestage")


if __name__ == "__main__":
    main()
