"""The production web command (gunicorn with deploy/gunicorn.conf.py) keeps answering
/healthz while a `wait` long poll is in flight. Issue 10: one sync worker held /healthz
for as long as the wait lasted.

The real gunicorn, started the way the Dockerfile starts it but with ONE process, so
the threads alone must carry the second request; the real PostgreSQL test database and
the real Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from sandboxes import services
from tests.support.status import report_ready

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
GENEROUS = 30.0  # seconds; never a performance threshold, only "did not hang"


def _dockerfile_command() -> list[str]:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    line = next(x for x in reversed(text.splitlines()) if x.startswith("CMD "))
    return json.loads(line[4:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    command = _dockerfile_command()
    assert command[:2] == ["gunicorn", "portal.wsgi"]
    bind = command.index("-b")
    command[bind + 1] = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": "test-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SIDESTAGE_MANIFEST_STATIC": "false",
        "SIDESTAGE_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_CMD_ARGS": "",
    }
    gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [gunicorn_bin, *command[1:]], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + GENEROUS
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=GENEROUS)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_healthz_answers_while_a_wait_long_poll_is_in_flight(gunicorn, world):
    sandbox = services.sandbox_create(
        actor=world.alice, tenant=world.alice_tenant, name="pr-1", forks=[world.fork()]
    )
    secret = services.token_issue(actor=world.alice, team=world.shop, name="ci").secret
    events: list[str] = []
    outcome: dict[str, object] = {}

    def long_poll() -> None:
        response = httpx.get(
            f"{gunicorn}/api/v1/sandboxes/pr-1/wait?timeout=50",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=GENEROUS * 3,
        )
        outcome["status"], outcome["body"] = response.status_code, response.json()
        events.append("wait answered")

    waiter = threading.Thread(target=long_poll)
    waiter.start()
    time.sleep(1.0)  # let the wait reach the server and start polling
    assert waiter.is_alive(), outcome  # the sandbox is not Ready: the wait holds on

    health = httpx.get(f"{gunicorn}/healthz", timeout=GENEROUS)
    events.append("healthz answered")
    assert health.status_code == 200
    assert waiter.is_alive()  # /healthz came back while the wait was still held

    report_ready(sandbox.pk, status="True", reason="Ready")  # as the reconciler would
    waiter.join(GENEROUS * 3)
    assert not waiter.is_alive()
    assert events == ["healthz answered", "wait answered"]
    assert outcome["status"] == 200
    assert outcome["body"]["result"] == "ready"
