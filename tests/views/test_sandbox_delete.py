"""Delete, behind a confirmation."""

from __future__ import annotations

from django.urls import reverse

from sandboxes.models import AuditEvent, Sandbox
from tests.views.conftest import htmx


def test_confirmation_inline_with_htmx_and_as_a_page_without(login, world, make_sandbox):
    sandbox = make_sandbox()
    url = reverse("sandbox_delete_confirm", args=[sandbox.pk])
    client = login(world.alice)
    partial = client.get(url, headers=htmx("danger-zone")).content.decode()
    assert "<html" not in partial
    assert "Yes, delete pr-1" in partial
    page = client.get(url).content.decode()
    assert "<html" in page and "Yes, delete pr-1" in page
    sandbox.refresh_from_db()
    assert not sandbox.is_deleting  # a GET never deletes


def test_delete_marks_for_deletion_and_goes_to_the_dashboard(login, world, make_sandbox):
    sandbox = make_sandbox()
    client = login(world.bob)
    response = client.post(reverse("sandbox_delete", args=[sandbox.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    sandbox.refresh_from_db()
    assert sandbox.is_deleting
    assert AuditEvent.objects.filter(sandbox=sandbox, verb="sandbox.delete", actor=world.bob)


def test_htmx_delete_answers_with_a_client_redirect(login, world, make_sandbox):
    sandbox = make_sandbox()
    response = login(world.alice).post(
        reverse("sandbox_delete", args=[sandbox.pk]), headers=htmx("danger-zone")
    )
    assert response["HX-Redirect"] == reverse("dashboard")


def test_get_does_not_delete_and_other_teams_get_404(login, world, make_sandbox):
    sandbox = make_sandbox()
    url = reverse("sandbox_delete", args=[sandbox.pk])
    assert login(world.alice).get(url).status_code == 405
    assert login(world.charlie).post(url).status_code == 404
    assert (
        login(world.charlie).get(reverse("sandbox_delete_confirm", args=[sandbox.pk])).status_code
        == 404
    )
    assert not Sandbox.objects.get(pk=sandbox.pk).is_deleting


def test_a_nul_in_the_delete_reason_is_refused_not_a_server_error(login, world, make_sandbox):
    sandbox = make_sandbox()
    response = login(world.alice).post(
        reverse("sandbox_delete", args=[sandbox.pk]), {"reason": "bye\x00"}
    )
    assert response.status_code in (400, 422)
    sandbox.refresh_from_db()
    assert not sandbox.is_deleting
