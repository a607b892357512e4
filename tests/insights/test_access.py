"""Every insight page is for Administrators only and never crosses organisations."""

import json
from typing import Any

import pytest
from django.test import Client

from accounts.models import RoleGroup, User
from accounts.services import role_group_create, user_create
from core.tenancy import tenant
from settings_app import services as settings
from tests.conftest import PASSWORD
from tests.insights.helpers import client_for


@pytest.fixture
def acme_rule(org: Any) -> Any:
    return settings.business_rule_create(
        name="VIP",
        criteria={"match": "all", "conditions": []},
        actions=[{"type": "add_tag", "value": "vip"}],
    )


@pytest.fixture
def globex(other_org: Any) -> dict[str, Any]:
    with tenant(other_org):
        rule = settings.business_rule_create(
            name="Globex rule",
            criteria={"match": "all", "conditions": []},
            actions=[{"type": "add_tag", "value": "x"}],
        )
        admin = User.objects.get(email="admin@globex.test")
    return {"rule": rule, "admin": admin}


def pages(agent: Any, rule: Any) -> list[tuple[str, str]]:
    history = f"/settings/security/audit-log/history/business_rule/{rule.pk}/"
    return [
        ("get", history),
        ("post", history + "restore/"),
        ("get", f"/settings/security/audit-log/history/user/{agent.pk}/"),
        ("get", "/settings/security/audit-log/volume.svg"),
        ("get", f"/settings/work/agents/{agent.pk}/timeline/"),
        ("get", "/settings/work/connectivity/"),
        ("get", "/settings/work/pulse/"),
        ("get", "/settings/work/pulse.json"),
    ]


def test_anonymous_visitors_are_sent_to_sign_in(org, agent, acme_rule):
    client = Client()
    for method, url in pages(agent, acme_rule):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_agents_get_the_friendly_403(org, agent, acme_rule):
    client = client_for(agent)
    for method, url in pages(agent, acme_rule):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
        assert "You don’t have access to this page" in response.content.decode()


def test_administrators_open_every_page(org, agent, acme_rule, admin_client):
    for method, url in pages(agent, acme_rule):
        if method == "get":
            assert admin_client.get(url).status_code == 200, url


def test_another_organisations_objects_answer_404(org, agent, admin_client, globex):
    rule, foreign_admin = globex["rule"], globex["admin"]
    for url in (
        f"/settings/security/audit-log/history/business_rule/{rule.pk}/",
        f"/settings/security/audit-log/history/user/{foreign_admin.pk}/",
        f"/settings/work/agents/{foreign_admin.pk}/timeline/",
        "/settings/security/audit-log/history/business_rule/999999999/",
        "/settings/security/audit-log/history/plan/1/",
        "/settings/security/audit-log/history/business_rule/99999999999999999999999/",
        "/settings/work/agents/99999999999999999999999/timeline/",
    ):
        assert admin_client.get(url).status_code == 404, url
    restore = f"/settings/security/audit-log/history/business_rule/{rule.pk}/restore/"
    assert admin_client.post(restore, {"at": "2030-01-01T00:00"}).status_code == 404
    with tenant(globex["rule"].org_id):
        assert settings.business_rule_update  # the rule is untouched
        assert type(rule).objects.get(pk=rule.pk).name == "Globex rule"
    pulse = json.loads(admin_client.get("/settings/work/pulse.json").content)
    assert "Globex Admin" not in {agent["name"] for agent in pulse["agents"]}
    svg = admin_client.get(
        "/settings/security/audit-log/volume.svg", {"q": "Globex rule"}
    ).content.decode()
    assert "0 events" in svg


def test_restore_needs_settings_permission_too(org, acme_rule):
    auditors = role_group_create(name="Auditors", permissions=["audit.view"])
    auditor = user_create(email="aud@acme.test", password=PASSWORD, name="Aud", role_group=auditors)
    client = client_for(auditor)
    url = f"/settings/security/audit-log/history/business_rule/{acme_rule.pk}/"
    page = client.get(url, {"at": "2030-01-01T00:00"})
    assert page.status_code == 200
    assert "Restore these values" not in page.content.decode()
    assert client.post(url + "restore/", {"at": "2030-01-01T00:00"}).status_code == 403
    assert RoleGroup.objects.filter(name="Auditors").exists()
