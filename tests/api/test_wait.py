"""`wait`: Ready, failure with a terminal reason, and timeout. The status is written
as the reconciler writes it (set_condition + observed_generation), from a thread."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from sandboxes.api.wait import judge
from tests.support.status import report_ready, report_ready_later

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_wait_returns_when_the_reconciler_marks_ready(world, client_for, make_sandbox):
    sandbox = make_sandbox("pr-1")
    writer = report_ready_later(sandbox.pk, status="True", reason="Ready", delay=0.7)
    started = time.monotonic()
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/wait?timeout=20")
    writer.join()
    body = response.json()
    assert response.status_code == 200
    assert (body["result"], body["reason"]) == ("ready", "Ready")
    assert body["sandbox"]["status"]["ready"] == "True"
    assert 0.5 < time.monotonic() - started < 10


@pytest.mark.django_db(transaction=True)
def test_wait_stops_on_a_terminal_failure(world, client_for, make_sandbox):
    sandbox = make_sandbox("pr-1")
    writer = report_ready_later(
        sandbox.pk, status="False", reason="ProgressDeadlineExceeded", delay=0.5
    )
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/wait?timeout=20").json()
    writer.join()
    assert (body["result"], body["reason"], body["message"]) == (
        "failed",
        "ProgressDeadlineExceeded",
        "ProgressDeadlineExceeded.",
    )


def test_wait_times_out_while_in_progress(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    started = time.monotonic()
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/wait?timeout=1").json()
    assert body["result"] == "timeout"
    assert 1 <= time.monotonic() - started < 5


def test_a_non_terminal_false_keeps_waiting(world, client_for, make_sandbox):
    sandbox = make_sandbox("pr-1")
    report_ready(sandbox.pk, status="False", reason="AwaitingApproval")
    body = client_for(world.alice).get("/api/v1/sandboxes/pr-1/wait?timeout=0").json()
    assert (body["result"], body["reason"]) == ("timeout", "AwaitingApproval")


def test_timeout_is_capped_and_validated(world, client_for, make_sandbox):
    make_sandbox("pr-1")
    response = client_for(world.alice).get("/api/v1/sandboxes/pr-1/wait?timeout=soon")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "timeout": ["Must be a whole number in ASCII digits."]
    }


def test_a_stale_ready_does_not_count(world, make_sandbox):
    sandbox = make_sandbox("pr-1")
    report_ready(sandbox.pk, status="True", reason="Ready")
    sandbox.refresh_from_db()
    assert judge(sandbox)[0] == "ready"
    sandbox.generation += 1  # the spec changed; the reconciler has not seen it yet
    assert judge(sandbox) is None


def test_deleting_is_a_failure(world, make_sandbox):
    sandbox = make_sandbox("pr-1")
    sandbox.deletion_requested_at = timezone.now()
    assert judge(sandbox)[:2] == ("failed", "Deleted")
