"""docker-compose.yml and deploy/Dockerfile, checked without Docker: the files parse,
the stack has every part and starts in the right order, and the app's environment is
one the settings accept (checked by loading the settings with it)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    """Instructions, with continuation lines joined and comments dropped."""
    text = (REPO / "deploy" / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _instructions(dockerfile: list[str], name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in dockerfile if line.split(None, 1)[0] == name]


def test_every_service_is_there(services):
    assert set(services) == {"postgres", "redis", *APP_SERVICES}


def test_datastores_are_pinned_and_have_healthchecks(services):
    for name, major in (("postgres", "16"), ("redis", "7")):
        image = services[name]["image"]
        repo, _, tag = image.partition(":")
        assert repo == name
        assert tag.split("-")[0] == major, image
        assert "latest" not in tag
        assert services[name]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]


def test_the_app_starts_after_healthy_datastores_and_finished_migrations(services):
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name


def test_the_commands(services):
    assert services["web"]["command"][:4] == ["gunicorn", "portal.wsgi", "-b", "0.0.0.0:8000"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "portal", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "portal", "beat"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_every_app_service_gets_the_same_production_like_environment(services):
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        env = service["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"} <= set(env), name
        assert env["DEBUG"] == "false"
        assert env["SECURE_SSL_REDIRECT"] == "false"
        assert (
            env["DATABASE_URL"].startswith("postgres://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        # No key in the file: compose refuses to start until one is given.
        assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", env["SECRET_KEY"]), env["SECRET_KEY"]


def test_the_compose_environment_is_accepted_by_the_settings(services, tmp_path):
    """Load the settings in a fresh process with the web service's environment (the
    hosts swapped for the test servers) and read back what they decided."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "SIDESTAGE_", "SECRET_KEY"))
        and k not in ("DEBUG", "ALLOWED_HOSTS")
    }
    for key, value in services["web"]["environment"].items():
        env[key] = _INTERPOLATION.sub(lambda m: _compose_default(m.group(0)), str(value))
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    script = (
        "import django, json; django.setup(); from django.conf import settings as s\n"
        "print(json.dumps({k: getattr(s, k) for k in ('DEBUG', 'SECURE_SSL_REDIRECT', "
        "'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'SIDESTAGE_CLUSTER')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    decided = json.loads(result.stdout)
    assert decided["DEBUG"] is False
    assert decided["SECURE_SSL_REDIRECT"] is False
    assert decided["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert "http://127.0.0.1:8000" in decided["CSRF_TRUSTED_ORIGINS"]
    assert decided["SIDESTAGE_CLUSTER"] == "none"


def _compose_default(expression: str) -> str:
    """`${NAME:-default}` -> default; `${NAME:?message}` -> a stand-in value."""
    match = re.fullmatch(r"\$\{\w+:-([^}]*)\}", expression)
    return match.group(1) if match else "interpolated"


def test_the_dockerfile_builds_a_slim_non_root_image(dockerfile):
    assert _instructions(dockerfile, "FROM") == ["python:3.12-slim"]
    user = _instructions(dockerfile, "USER")
    assert user and user[-1].split(":")[0] not in ("root", "0")
    runs = " ".join(_instructions(dockerfile, "RUN"))
    assert "pyproject.toml" in runs and "pip install" in runs
    assert "pip install --no-deps -e ." in runs
    # collectstatic at build time, with a throwaway key that is not the runtime key.
    collect = next(r for r in _instructions(dockerfile, "RUN") if "collectstatic" in r)
    assert re.search(r"SECRET_KEY=\S+", collect)
    assert "DEBUG=false" in collect


def test_the_dockerfile_command_exists(dockerfile, services):
    assert not _instructions(dockerfile, "ENTRYPOINT")
    cmd = json.loads(_instructions(dockerfile, "CMD")[-1])  # exec form
    assert cmd[0] == "gunicorn"
    module = cmd[1].split(":")[0]
    assert (REPO / (module.replace(".", "/") + ".py")).is_file()
    assert cmd == services["web"]["command"]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^\s*"gunicorn\b', pyproject, re.M)
    assert "EXPOSE 8000" in dockerfile


def test_the_build_context_leaves_local_state_out():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env"} <= ignored


def test_redis_keeps_queued_reconciles_across_a_restart(services):
    """acks_late keeps every unfinished reconcile in Redis; without persistence a
    restart of the broker would drop them all (tests/chaos/ restarts one)."""
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
