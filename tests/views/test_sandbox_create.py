"""The create form: catalog with the policy preview, services-layer validation with
inline errors, htmx and plain submissions."""

from __future__ import annotations

from django.urls import reverse

from sandboxes.models import Approval, ApprovalState, Sandbox
from tests.views.conftest import htmx

URL = reverse("sandbox_create")


def _post(world, **overrides):
    data = {
        "tenant": str(world.alice_tenant.pk),
        "name": "pr-7",
        "description": "",
        "profile": "dev",
        "ttl_hours": "8",
        "services": ["orders", "frontend"],
        "orders-image": "ghcr.io/acme/orders:pr-7",
        "orders-replicas": "2",
        "orders-env-name": ["LOG_LEVEL", ""],
        "orders-env-value": ["debug", ""],
        "frontend-image": "",
        "frontend-replicas": "1",
        "frontend-env-name": [""],
        "frontend-env-value": [""],
    }
    data.update(overrides)
    return data


def test_form_shows_the_teams_catalog_with_mesh_data_and_policy(login, world):
    body = login(world.alice).get(URL).content.decode()
    for service in ("orders", "frontend", "payments", "world"):
        assert f'id="pick-{service}"' in body
    assert 'id="pick-indexer"' not in body  # search's namespace, not shop's
    assert "Gateway API" in body  # orders' mesh
    assert "orders-db" in body and "isolated-schema" in body
    assert "orders-events" in body and "prefix" in body
    assert "A lead of the team must approve" in body
    assert f'<option value="{world.alice_tenant.pk}" selected>' in body


def test_a_team_sees_its_own_catalog_only(login, world):
    body = login(world.charlie).get(URL).content.decode()
    assert 'id="pick-indexer"' in body
    assert 'id="pick-orders"' not in body


def test_plain_post_creates_and_redirects_to_the_detail(login, world):
    response = login(world.alice).post(URL, _post(world))
    sandbox = Sandbox.objects.get(name="pr-7")
    assert response.status_code == 302
    assert response["Location"] == reverse("sandbox_detail", args=[sandbox.pk])
    forks = {f.baseline.name: f for f in sandbox.forks.all()}
    assert set(forks) == {"orders", "frontend"}
    assert forks["orders"].replicas == 2
    assert forks["orders"].env == [{"name": "LOG_LEVEL", "value": "debug"}]
    assert forks["frontend"].image == ""
    assert sandbox.ttl.total_seconds() == 8 * 3600
    assert sandbox.created_by == world.alice


def test_htmx_post_answers_with_a_client_redirect(login, world):
    response = login(world.alice).post(URL, _post(world), headers=htmx("create-form"))
    sandbox = Sandbox.objects.get(name="pr-7")
    assert response["HX-Redirect"] == reverse("sandbox_detail", args=[sandbox.pk])


def test_invalid_input_comes_back_inline_from_the_services_layer(login, world):
    data = _post(
        world,
        name="Not_A_Name",
        **{
            "orders-image": "evil.example/orders:1",
            "orders-replicas": "99",
            "orders-env-name": ["", "1BAD"],
            "orders-env-value": ["", "x"],
        },
    )
    response = login(world.alice).post(URL, data, headers=htmx("create-form"))
    body = response.content.decode()
    assert response.status_code == 422
    assert body.lstrip().startswith('<form id="create-form"')
    assert "<html" not in body
    assert "DNS-1123" in body  # name
    assert "Registry not allowed" in body  # orders image
    assert "between 0 and 3" in body  # replicas
    assert "C identifier" in body  # the second env row, the first was blank
    assert 'value="1BAD"' in body  # what was typed is kept
    assert not Sandbox.objects.exists()


def test_invalid_plain_post_renders_the_whole_page(login, world):
    response = login(world.alice).post(URL, _post(world, services=[]))
    body = response.content.decode()
    assert response.status_code == 422
    assert "<html" in body
    assert "at least one fork" in body


def test_policy_refusal_is_shown_beside_the_service(login, world):
    from sandboxes.models import DataAction
    from tests.factories import RuleFactory

    RuleFactory(
        policy=world.policy,
        baseline=world.orders,
        resource_name="orders-db",
        action=DataAction.DENY,
    )
    body = login(world.alice).get(URL).content.decode()
    assert "denies forks of orders access to orders-db" in body
    response = login(world.alice).post(URL, _post(world), headers=htmx("create-form"))
    assert response.status_code == 422
    assert "denies forks of orders" in response.content.decode()


def test_prod_like_opens_a_pending_approval(login, world):
    login(world.bob).post(
        URL,
        _post(
            world, tenant=str(world.bob_tenant.pk), profile="prod-like", approval_note="demo for QA"
        ),
    )
    approval = Approval.objects.get(sandbox__name="pr-7")
    assert approval.state == ApprovalState.PENDING
    assert approval.request_note == "demo for QA"


def test_a_tenant_of_another_team_is_refused(login, world):
    response = login(world.alice).post(URL, _post(world, tenant=str(world.charlie_tenant.pk)))
    assert response.status_code == 422
    assert "Choose one of your team" in response.content.decode()
    assert not Sandbox.objects.exists()


def test_ttl_that_is_not_a_number(login, world):
    response = login(world.alice).post(URL, _post(world, ttl_hours="soon"))
    assert response.status_code == 422
    assert "number of hours" in response.content.decode()


def test_ttl_beyond_the_team_maximum(login, world):
    response = login(world.alice).post(URL, _post(world, ttl_hours="1000"))
    assert response.status_code == 422
    assert "the team&#x27;s maximum" in response.content.decode()


def test_quota_is_reported_on_the_form(login, world):
    world.shop.max_sandboxes = 0
    world.shop.save()
    response = login(world.alice).post(URL, _post(world))
    assert response.status_code == 422
    assert "quota" in response.content.decode()


def test_preview_rerenders_the_catalog_for_the_profile(login, world):
    from sandboxes.models import DataAction
    from tests.factories import RuleFactory

    RuleFactory(
        policy=world.policy, kind="postgres", profile="prod-like", action=DataAction.READ_ONLY
    )
    data = _post(world, profile="prod-like", preview="1")
    response = login(world.alice).post(URL, data, headers=htmx("catalog"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<fieldset id="catalog"')
    assert "read-only" in body
    assert 'value="ghcr.io/acme/orders:pr-7"' in body  # typed values survive
    assert not Sandbox.objects.exists()


def test_without_javascript_env_rows_are_added_and_removed_by_posting(login, world):
    client = login(world.alice)
    body = client.post(URL, _post(world, add_env="orders")).content.decode()
    assert body.count('name="orders-env-name"') == 3
    data = _post(world, remove_env="orders:0")
    body = client.post(URL, data).content.decode()
    assert body.count('name="orders-env-name"') == 1
    assert 'value="LOG_LEVEL"' not in body
    assert not Sandbox.objects.exists()


def test_login_required(client, world):
    assert client.get(URL).status_code == 302
    assert client.post(URL, _post(world)).status_code == 302


def test_nul_characters_are_an_inline_error_not_a_server_error(login, world):
    response = login(world.alice).post(URL, _post(world, description="a\x00b"))
    assert response.status_code == 422
    assert "May not contain NUL characters." in response.content.decode()
    assert not Sandbox.objects.filter(name="pr-7").exists()
