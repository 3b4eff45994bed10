"""`sidestage` end to end: the installed console script against a live server on the
real PostgreSQL, with real API tokens from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from sandboxes import services
from sandboxes.models import Sandbox
from tests.support.status import report_ready, report_ready_later

pytestmark = pytest.mark.django_db(transaction=True)

SIDESTAGE = str(Path(sys.executable).with_name("sidestage"))
DOCUMENT = """\
name: pr-42
profile: dev
ttl: 8h
labels:
  pr: "42"
description: PR 42
forks:
  - service: orders
    image: ghcr.io/acme/orders:pr-42
    env:
      - name: LOG_LEVEL
        value: debug
    replicas: 1
"""


@pytest.fixture
def cli(live_api, world, tmp_path):
    tokens = {}

    def run(*args: str, user=None, tenant=None, timeout: float = 60) -> subprocess.CompletedProcess:
        user = user or world.alice
        key = (user.username, tenant.pk if tenant else None)
        if key not in tokens:
            team = tenant.team if tenant else user.teams.first()
            tokens[key] = services.token_issue(
                actor=user, team=team, name=f"cli-{len(tokens)}", tenant=tenant
            ).secret
        env = {**os.environ, "SIDESTAGE_URL": live_api.url, "SIDESTAGE_TOKEN": tokens[key]}
        return subprocess.run(
            [SIDESTAGE, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=tmp_path,
            check=False,
        )

    (tmp_path / "sandbox.yaml").write_text(DOCUMENT)
    return run


def mark(sandbox_name: str, status: str, reason: str, delay: float) -> threading.Thread:
    sandbox_id = Sandbox.objects.get(name=sandbox_name).pk
    return report_ready_later(sandbox_id, status=status, reason=reason, delay=delay)


def test_apply_is_idempotent_and_outputs_json_and_yaml(cli, world):
    first = cli("sandbox", "apply", "-f", "sandbox.yaml", "-o", "json")
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert (created["name"], created["tenant"], created["generation"]) == ("pr-42", "alice", 1)
    again = cli("sandbox", "apply", "-f", "sandbox.yaml", "-o", "yaml")
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load(again.stdout)["generation"] == 1
    assert Sandbox.objects.filter(name="pr-42").count() == 1
    listed = cli("sandbox", "list", "-o", "name")
    assert listed.stdout.split() == ["pr-42"]
    table = cli("sandbox", "get", "pr-42")
    assert "shop/alice" in table.stdout and "orders" in table.stdout


def test_apply_wait_ready(cli, world):
    cli("sandbox", "apply", "-f", "sandbox.yaml")
    writer = mark("pr-42", "True", "Ready", delay=1.0)
    result = cli(
        "sandbox", "apply", "-f", "sandbox.yaml", "--wait", "--timeout", "30", "-o", "json"
    )
    writer.join()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["ready"] == "True"
    assert "waiting for pr-42" in result.stderr


def test_wait_failure_and_timeout_exit_codes(cli, world):
    cli("sandbox", "apply", "-f", "sandbox.yaml")
    timed_out = cli("sandbox", "wait", "pr-42", "--timeout", "1")
    assert timed_out.returncode == 3, timed_out.stderr
    assert "timed out after 1s" in timed_out.stderr
    mark("pr-42", "False", "PolicyDenied", delay=0).join()
    failed = cli("sandbox", "wait", "pr-42", "--timeout", "30")
    assert failed.returncode == 1
    assert "failed: PolicyDenied" in failed.stderr


def test_snippet_extend_delete(cli, world):
    cli("sandbox", "apply", "-f", "sandbox.yaml")
    key = Sandbox.objects.get(name="pr-42").routing_key
    header = cli("snippet", "pr-42", "--format", "header")
    assert header.stdout.strip() == f"x-sidestage-route: {key}"
    curl = cli("snippet", "pr-42", "--format", "curl")
    assert f"baggage: sidestage={key}" in curl.stdout
    extended = cli("sandbox", "extend", "pr-42", "--ttl", "2h", "-o", "json")
    assert json.loads(extended.stdout)["ttl"] == 7200
    deleted = cli("sandbox", "delete", "pr-42")
    assert (deleted.returncode, deleted.stdout.strip()) == (0, "pr-42")
    assert Sandbox.objects.get(name="pr-42").deletion_requested_at is not None


def test_isolation_through_the_cli(cli, world):
    cli("sandbox", "apply", "-f", "sandbox.yaml")
    for args in (
        ("sandbox", "get", "pr-42"),
        ("sandbox", "delete", "pr-42"),
        ("sandbox", "extend", "pr-42", "--ttl", "1h"),
        ("snippet", "pr-42", "--format", "curl"),
    ):
        result = cli(*args, user=world.charlie)
        assert result.returncode == 1, args
        assert "Sandbox 'pr-42' not found. (not_found, HTTP 404)" in result.stderr
    assert cli("sandbox", "list", "-o", "name", user=world.charlie).stdout.strip() == ""
    assert Sandbox.objects.get(name="pr-42").deletion_requested_at is None


def test_field_errors_and_usage_errors(cli, world, tmp_path):
    (tmp_path / "bad.yaml").write_text(DOCUMENT.replace("ttl: 8h", "ttl: 30d"))
    bad = cli("sandbox", "apply", "-f", "bad.yaml")
    assert bad.returncode == 1
    assert "ttl: Must be at most 604800 seconds (the team's maximum)." in bad.stderr
    missing = cli("sandbox", "apply", "-f", "nope.yaml")
    assert missing.returncode == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDESTAGE_")}
    no_env = subprocess.run(
        [SIDESTAGE, "sandbox", "list"], capture_output=True, text=True, env=env, check=False
    )
    assert no_env.returncode == 2
    assert "SIDESTAGE_URL" in no_env.stderr


def test_unreachable_server_is_exit_4(world, tmp_path):
    env = {**os.environ, "SIDESTAGE_URL": "http://127.0.0.1:9", "SIDESTAGE_TOKEN": "sst_x_y"}
    result = subprocess.run(
        [SIDESTAGE, "sandbox", "list"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 4


def test_the_cli_does_not_import_django():
    code = "import sys, sandboxes.cli.main; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_delete_of_a_missing_sandbox_with_and_without_ignore_not_found(cli, world):
    missing = cli("sandbox", "delete", "no-such")
    assert missing.returncode == 1
    assert "not found" in missing.stderr.lower()
    ignored = cli("sandbox", "delete", "no-such", "--ignore-not-found")
    assert ignored.returncode == 0, ignored.stderr
    assert "nothing to delete" in ignored.stderr


def test_wait_on_a_prod_like_sandbox_awaiting_approval_is_not_a_failure(cli, world):
    sandbox = services.sandbox_create(
        actor=world.bob,
        tenant=world.bob_tenant,
        name="prod-pr",
        profile="prod-like",
        forks=[world.fork("orders")],
    )
    # What render-only mode reports while the gate is closed.
    report_ready(sandbox.pk, status="False", reason="NoCluster")
    waited = cli("sandbox", "wait", "prod-pr", "--timeout", "1", user=world.bob)
    assert waited.returncode == 3, waited.stderr
    assert "awaiting a lead's approval" in waited.stderr
    assert "NoCluster" not in waited.stderr.splitlines()[-1]
    services.approval_decide(
        actor=world.alice, approval=sandbox.approvals.get(), approve=False, reason="not now"
    )
    rejected = cli("sandbox", "wait", "prod-pr", "--timeout", "5", user=world.bob)
    assert rejected.returncode == 1
    assert "ApprovalRejected: Rejected by alice: not now" in rejected.stderr


def test_wait_treats_rendered_as_done(cli, world):
    applied = cli("sandbox", "apply", "-f", "sandbox.yaml")
    assert applied.returncode == 0, applied.stderr
    report_ready(Sandbox.objects.get(name="pr-42").pk, status="False", reason="Rendered")
    waited = cli("sandbox", "wait", "pr-42", "--timeout", "5", "-o", "name")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.strip() == "pr-42"
    assert "rendered, not deployed" in waited.stderr
