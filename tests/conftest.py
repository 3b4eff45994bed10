"""Suite-wide fixtures. The tiers (see README, "Testing") share these:

- `world`: two teams with alice (lead), bob (member) and dana (lead) in "shop", and
  charlie (lead) in "search", a catalog and a default data-isolation policy.
- `queued_reconciles`: records `reconcile_sandbox.delay` calls that a committed
  transaction queued, so tests can assert "queued on commit, not on rollback".
- `tests.fixtures.kube`: the real Kubernetes control plane (cluster tier).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.world", "tests.fixtures.kube", "tests.fixtures.prometheus"]


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        raise pytest.UsageError(
            "The test suite runs against a real PostgreSQL, not "
            f'{engine}. Run `make test`, or `eval "$(scripts/services)"` to set DATABASE_URL.'
        )
    # One test database per checkout: two clones (or a clone and CI) running the suite
    # on one PostgreSQL must not drop each other's database.
    checkout = hashlib.sha256(str(settings.BASE_DIR).encode()).hexdigest()[:8]
    default = settings.DATABASES["default"]
    default["TEST"] = {**default.get("TEST", {}), "NAME": f"test_{default['NAME']}_{checkout}"}
    # Set before anything builds a request handler: live servers build their
    # middleware once, before any per-test `settings` fixture could change it.
    # A fast hasher: PBKDF2's cost is for real passwords, not for test users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Production defaults redirect to HTTPS; the test client and live servers speak HTTP.
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # The manifest storage needs `collectstatic`; tests serve static files through the
    # finders instead. WhiteNoise still wants STATIC_ROOT to exist.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
