"""Data isolation, realised: what each fork's env becomes, and the Postgres schemas or
databases provisioned per sandbox.

`plan_fork_data` is pure: from the policy decisions and the baseline's env values it
works out the fork's env and what to provision. `provision` and `deprovision` talk to
Postgres with the credentials configured for the data resource (a DSN in a worker env
var named by `DataResource.provisioner_dsn_env`), and are idempotent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from sandboxes.models import DataAction, DataKind
from sandboxes.policies import DataPlan


class DataIsolationError(Exception):
    """A data resource cannot be isolated as the policy asks; the message says why.
    `transient`: the database server did not answer (down, restarting); retried."""

    def __init__(self, reason: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient


@dataclass
class ProvisionStats:
    """Admin connections opened to create or drop sandbox data (tests count them)."""

    provisions: int = 0
    deprovisions: int = 0


stats = ProvisionStats()


@dataclass(frozen=True)
class Provision:
    """One schema or database that exists for a sandbox; stored so it can be dropped."""

    resource: str
    kind: str  # "schema" | "database"
    name: str
    dsn_env: str

    def as_dict(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "name": self.name,
            "dsn_env": self.dsn_env,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Provision:
        return cls(data["resource"], data["kind"], data["name"], data["dsn_env"])


def isolated_name(routing_key: str) -> str:
    """`sbx_<key>`: a valid unquoted Postgres identifier (keys are [a-z0-9])."""
    return f"sbx_{routing_key}"


def with_search_path(url: str, schema: str) -> str:
    """The Postgres URL with `options=-csearch_path=<schema>` (libpq), keeping any
    other options the baseline had."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    option = f"-csearch_path={schema}"
    merged, found = [], False
    for key, value in query:
        if key == "options":
            kept = " ".join(o for o in value.split() if not o.startswith("-csearch_path="))
            value, found = f"{kept} {option}".strip(), True
        merged.append((key, value))
    if not found:
        merged.append(("options", option))
    return urlunsplit(parts._replace(query=urlencode(merged, quote_via=quote)))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def plan_fork_data(
    plans: list[DataPlan], baseline_env: dict[str, str | None], routing_key: str
) -> tuple[dict[str, str], list[Provision]]:
    """The fork's env overrides and the provisions it needs, for one forked service.

    `baseline_env` maps env names to the literal values in the baseline pod template
    (None when the value comes from a Secret or ConfigMap: it cannot be rewritten)."""
    env: dict[str, str] = {}
    provisions: list[Provision] = []
    for plan in plans:
        resource = plan.resource
        if plan.problem:
            raise DataIsolationError("PolicyDenied", plan.problem)
        action = plan.action
        if action == DataAction.SHARED:
            continue
        current = baseline_env.get(resource.env_var)
        if action == DataAction.READ_ONLY:
            if not resource.read_only_value:
                raise DataIsolationError(
                    "NoReadOnlyEndpoint",
                    f"{resource.name} is read-only for forks but has no read-only endpoint "
                    "configured; an operator must set it in the catalog.",
                )
            env[resource.env_var] = resource.read_only_value
        elif action == DataAction.PREFIX:
            prefix = plan.decision.prefix_template.format(key=routing_key)
            env[resource.env_var] = f"{prefix}{current or resource.name}"
        elif action in (DataAction.ISOLATED_SCHEMA, DataAction.ISOLATED_DATABASE):
            if resource.kind != DataKind.POSTGRES:
                raise DataIsolationError(
                    "UnsupportedIsolation", f"{action} needs a Postgres resource."
                )
            if current is None:
                raise DataIsolationError(
                    "EnvNotRewritable",
                    f"${resource.env_var} of {resource.baseline.name} is missing or comes "
                    "from a Secret or ConfigMap; Sidestage can only rewrite a literal URL.",
                )
            if not resource.provisioner_dsn_env:
                raise DataIsolationError(
                    "NoProvisionerCredentials",
                    f"{resource.name} has no provisioner DSN configured; an operator must "
                    "set provisioner_dsn_env in the catalog.",
                )
            name = isolated_name(routing_key)
            if action == DataAction.ISOLATED_SCHEMA:
                env[resource.env_var] = with_search_path(current, name)
                kind = "schema"
            else:
                env[resource.env_var] = with_database(current, name)
                kind = "database"
            provisions.append(Provision(resource.name, kind, name, resource.provisioner_dsn_env))
    return env, provisions


def _dsn(env_name: str) -> str:
    dsn = os.environ.get(env_name)
    if not dsn:
        raise DataIsolationError(
            "NoProvisionerCredentials",
            f"The worker has no ${env_name}; it holds the DSN used to create sandbox data.",
        )
    return dsn


# Down, restarting, shutting down, out of connections, a serialization failure or a
# deadlock: another try may well work. A refused login or a missing database will not.
_TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "53300", "40001", "40P01"}
_TRANSIENT_FATALS = (
    "the database system is",  # starting up, shutting down, in recovery mode
    "too many clients",
    "remaining connection slots",
    "terminating connection",
)


def _is_transient(exc: psycopg.Error) -> bool:
    state = exc.sqlstate
    if state is None and isinstance(exc, psycopg.OperationalError):
        # A failed connect carries no SQLSTATE: judge by what the server said, if
        # anything. No "FATAL:" means it never answered (refused, timed out, reset).
        text = str(exc)
        if "FATAL:" not in text:
            return True
        return any(phrase in text for phrase in _TRANSIENT_FATALS)
    return state is not None and (state.startswith("08") or state in _TRANSIENT_SQLSTATES)


@contextmanager
def _admin_connection(item: Provision, doing: str) -> Iterator[psycopg.Connection]:
    """A connection with the resource's provisioner credentials; any database error
    becomes a DataProvisioningFailed that says what was being done."""
    try:
        with psycopg.connect(_dsn(item.dsn_env), autocommit=True, connect_timeout=5) as conn:
            yield conn
    except psycopg.Error as exc:
        if _is_transient(exc):
            raise DataIsolationError(
                "DataUnreachable", f"{doing} {item.kind} {item.name}: {exc}", transient=True
            ) from exc
        raise DataIsolationError(
            "DataProvisioningFailed", f"{doing} {item.kind} {item.name}: {exc}"
        ) from exc


def provision(item: Provision) -> None:
    """Create the schema or database if it is missing. Idempotent."""
    name = sql.Identifier(item.name)
    stats.provisions += 1
    with _admin_connection(item, "creating") as conn:
        if item.kind == "schema":
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        elif not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [item.name]
        ).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def deprovision(item: Provision) -> None:
    """Drop the schema or database. Idempotent."""
    name = sql.Identifier(item.name)
    stats.deprovisions += 1
    with _admin_connection(item, "dropping") as conn:
        if item.kind == "schema":
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
        else:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def literal_env(deployment: dict[str, Any]) -> dict[str, str | None]:
    """Env names of every container of a Deployment's pod template, with literal values
    (None for valueFrom)."""
    out: dict[str, str | None] = {}
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    for container in containers:
        for item in container.get("env") or []:
            name = item.get("name")
            if name and name not in out:
                out[name] = item.get("value") if "value" in item else None
    return out
