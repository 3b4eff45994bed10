"""The embedded default's database, for real: a subprocess runs the API against a
fresh SQLite file (tests/support/sqlite_api.py). The rest of the suite refuses SQLite,
so this is where its differences (no JSON containment, one writer at a time) are
tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_filters_and_concurrent_writes_on_sqlite(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SIDESTAGE_CLUSTER")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'sidestage.sqlite3'}",
        SIDESTAGE_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECURE_SSL_REDIRECT="false",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.sqlite_api"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout)
    assert out["label_kv"] == ["a"]
    assert out["label_key"] == ["a", "b"]
    assert out["ready"] == ["a"]
    assert out["not_ready"] == ["b"]
    assert out["unknown"] == ["c"]
    assert out["both"] == ["b"]
    assert out["numeric_key"] == out["numeric_has"] == ["c"]
    assert out["concurrent_failures"] == []
    assert out["concurrent_sandboxes"] == 40
