"""Production settings: `check --deploy` is clean, no key is ever hard-coded, and a
bad setting fails at start-up with a message a person can act on.

Each case starts a fresh interpreter, because settings are read once per process.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Anything in the caller's environment that would change what the settings decide.
_SCRUB = (
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SIDESTAGE_CLUSTER",
    "SIDESTAGE_VAR_DIR",
    # The browser tests set this in the test process for Playwright's sync API; it is
    # a test-harness setting, never a production one.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_PROXY_SSL_HEADER",
    "STATIC_ROOT",
)


def _production_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="false",
        ALLOWED_HOSTS="sidestage.example.com",
        DATABASE_URL=os.environ["DATABASE_URL"],
        SIDESTAGE_VAR_DIR=str(var_dir),
    )
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


_PRINT_SECRET_KEY = (
    "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)


def test_check_deploy_is_clean_with_production_values(tmp_path):
    env = _production_env(tmp_path / "var", SECRET_KEY=secrets.token_urlsafe(50))
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_a_secret_key_a_random_one_is_generated_under_the_var_dir(tmp_path):
    var_dir = tmp_path / "var"
    env = _production_env(var_dir)
    assert "SECRET_KEY" not in env

    first = _run(["-c", _PRINT_SECRET_KEY], env)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    key_file = var_dir / "secret_key"
    assert key_file.read_text() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key) >= 50

    # The next process (a restart, the worker) reuses it: sessions survive.
    again = _run(["-c", _PRINT_SECRET_KEY], env)
    assert again.stdout.strip() == key
    # Another installation gets its own key: nothing is hard-coded.
    other = _run(["-c", _PRINT_SECRET_KEY], _production_env(tmp_path / "other"))
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() not in ("", key)


def test_secret_key_file_wins_over_the_generated_key(tmp_path):
    key_file = tmp_path / "mounted-secret"
    key_file.write_text("k" * 60 + "\n")
    env = _production_env(tmp_path / "var", SECRET_KEY_FILE=str(key_file))
    result = _run(["-c", _PRINT_SECRET_KEY], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "k" * 60
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SIDESTAGE_CLUSTER",
            "bogus",
            "SIDESTAGE_CLUSTER must be one of: none, kubeconfig, in-cluster",
        ),
        ("DEBUG", "maybe", "DEBUG must be a boolean (true/false), got 'maybe'"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS must be an integer"),
    ],
)
def test_a_bad_setting_fails_at_start_up_with_a_clear_message(tmp_path, variable, value, message):
    env = _production_env(tmp_path / "var", SECRET_KEY=secrets.token_urlsafe(50))
    env[variable] = value
    result = _run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in result.stderr
