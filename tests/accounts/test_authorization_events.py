"""Every authorization event of SPEC section 2, caused the way a person causes it, and its exact rows."""

import json

import pytest
from django.test import Client

from accounts.models import ApiToken, RoleGroup, User
from auditlog.models import AuditEvent
from core import context
from tests.conftest import PASSWORD, audit_rows, compact

IP = "198.51.100.7"
UA = "Mozilla/5.0 (X11; Linux x86_64) AuditdeskTest/1.0"


def browser() -> Client:
    return Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=UA)


def test_login_is_recorded_with_ip_and_user_agent(org, agent):
    response = browser().post(
        "/accounts/login/", {"username": "agent@acme.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    (row,) = audit_rows(org, section="Session")
    assert row | {"change_id": None, "request_id": None} == {
        "event_type": "authorization",
        "action": "login",
        "section": "Session",
        "property": None,
        "before": None,
        "after": None,
        "actor_type": "user",
        "actor_id": str(agent.pk),
        "actor_name": "Ann Agent",
        "subject_type": "user",
        "subject_id": str(agent.pk),
        "subject_name": "Ann Agent",
        "ip_address": IP,
        "user_agent": UA,
        "change_id": None,
        "metadata": {},
        "request_id": None,
    }


def test_logout_is_recorded(org, agent):
    client = browser()
    client.post("/accounts/login/", {"username": "agent@acme.test", "password": PASSWORD})
    assert client.post("/accounts/logout/").status_code == 302
    rows = audit_rows(org, section="Session")
    assert compact(rows, "action", "actor_id", "subject_id", "ip_address", "user_agent") == [
        ("login", str(agent.pk), str(agent.pk), IP, UA),
        ("logout", str(agent.pk), str(agent.pk), IP, UA),
    ]


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_failed_sign_in_is_recorded_without_revealing_which_accounts_exist(org, agent):
    wrong_password = browser().post(
        "/accounts/login/", {"username": "agent@acme.test", "password": "nope-nope"}
    )
    unknown_email = browser().post(
        "/accounts/login/", {"username": "ghost@acme.test", "password": "nope-nope"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 200
    message = "That email and password do not match an active account."
    assert message in wrong_password.content.decode() and message in unknown_email.content.decode()

    (row,) = audit_rows(org, section="Session")
    assert compact(
        [row],
        "action",
        "actor_type",
        "actor_id",
        "actor_name",
        "subject_id",
        "ip_address",
        "user_agent",
    ) == [("login_failed", "anonymous", None, "Unknown", str(agent.pk), IP, UA)]
    assert row["metadata"] == {"email_tried": "agent@acme.test", "reason": "wrong_password"}
    # The unknown email belongs to no organisation: kept for platform operators, seen by no tenant.
    # The application's login cannot read it at all; the owner's reads the platform chain.
    with context.use(org_id=None):
        assert not AuditEvent.objects.filter(org_id=None).exists()
        orphan = AuditEvent.objects.using("owner").get(org_id=None, action="login_failed")
    assert orphan.metadata == {"email_tried": "ghost@acme.test", "reason": "unknown_email"}
    assert (orphan.actor_type, orphan.actor_id, orphan.actor_name) == ("anonymous", None, "Unknown")
    assert orphan.subject_id is None and orphan.ip_address == IP


def test_repeated_failures_lock_the_account_even_for_the_right_password(org, agent, settings):
    client = browser()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/", {"username": "agent@acme.test", "password": "wrong-password"}
        )
    locked = client.post("/accounts/login/", {"username": "agent@acme.test", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session

    rows = audit_rows(org, section="Session")
    lockouts = [row for row in rows if row["action"] == "lockout"]
    assert lockouts, "no lockout row"
    assert lockouts[0]["subject_id"] == str(agent.pk)
    assert lockouts[0]["actor_type"] == "system"
    assert lockouts[0]["metadata"]["failed_attempts"] == settings.AXES_FAILURE_LIMIT
    assert "unlock_at" in lockouts[0]["metadata"]
    assert not any(row["action"] == "login" for row in rows)


def test_administrator_creates_a_user(org, admin, admin_client):
    agent_group = RoleGroup.objects.get(name="Agent")
    response = admin_client.post(
        "/settings/users/new/",
        {
            "name": "Bea Brown",
            "email": "Bea@Acme.test",
            "phone": "+44 20 7946 0000",
            "role_group": agent_group.pk,
            "is_active": "on",
            "password": "a-long-enough-secret",
        },
    )
    assert response.status_code == 302, response.content
    bea = User.objects.get(email="bea@acme.test")
    rows = audit_rows(org, section="User", subject_id=str(bea.pk))
    assert compact(rows) == [
        ("create", "User", "name", None, "Bea Brown", "user", "Acme Admin"),
        ("create", "User", "email", None, "bea@acme.test", "user", "Acme Admin"),
        ("create", "User", "phone", None, "+44 20 7946 0000", "user", "Acme Admin"),
        ("create", "User", "role_group", None, "Agent", "user", "Acme Admin"),
        ("create", "User", "is_active", None, True, "user", "Acme Admin"),
        ("create", "User", "password", None, "[redacted]", "user", "Acme Admin"),
    ]
    assert {row["change_id"] for row in rows} == {rows[0]["change_id"]}
    assert {(row["ip_address"], row["user_agent"], row["actor_id"]) for row in rows} == {
        ("203.0.113.9", "pytest-browser/1.0", str(admin.pk))
    }
    assert "a-long-enough-secret" not in json.dumps(rows, default=str)


def test_administrator_updates_a_user(org, admin_client, agent):
    admin_group = RoleGroup.objects.get(name="Administrator")
    response = admin_client.post(
        f"/settings/users/{agent.pk}/",
        {
            "name": "Ann Smith",
            "email": "agent@acme.test",
            "phone": "",
            "role_group": admin_group.pk,
        },
    )
    assert response.status_code == 302
    rows = audit_rows(org, section="User", action="update")
    assert compact(rows) == [
        ("update", "User", "name", "Ann Agent", "Ann Smith", "user", "Acme Admin"),
        ("update", "User", "role_group", "Agent", "Administrator", "user", "Acme Admin"),
        ("update", "User", "is_active", True, False, "user", "Acme Admin"),
    ]
    assert len({row["change_id"] for row in rows}) == 1
    assert rows[0]["subject_name"] == "Ann Smith"


def test_password_change_is_recorded_redacted(org, admin_client, agent):
    old_hash = agent.password
    response = admin_client.post(
        f"/settings/users/{agent.pk}/password/", {"password": "another-long-secret"}
    )
    assert response.status_code == 302
    rows = audit_rows(org, section="User", action="update")
    assert compact(rows) == [
        ("update", "User", "password", "[redacted]", "[redacted]", "user", "Acme Admin")
    ]
    dumped = json.dumps(rows, default=str)
    assert old_hash not in dumped and "another-long-secret" not in dumped


def test_administrator_deletes_a_user_and_the_name_is_kept(org, admin_client, agent):
    agent_pk = agent.pk
    assert admin_client.post(f"/settings/users/{agent_pk}/delete/").status_code == 302
    assert not User.objects.filter(pk=agent_pk).exists()
    rows = audit_rows(org, section="User", action="delete")
    assert compact(rows, "property", "before", "after", "subject_id", "subject_name") == [
        ("name", "Ann Agent", None, str(agent_pk), "Ann Agent"),
        ("email", "agent@acme.test", None, str(agent_pk), "Ann Agent"),
        ("role_group", "Agent", None, str(agent_pk), "Ann Agent"),
        ("is_active", True, None, str(agent_pk), "Ann Agent"),
        ("password", "[redacted]", None, str(agent_pk), "Ann Agent"),
    ]


def test_role_group_create_update_delete(org, admin_client):
    response = admin_client.post(
        "/settings/role-groups/new/", {"name": "Leads", "permissions": ["billing.manage"]}
    )
    assert response.status_code == 302
    group = RoleGroup.objects.get(name="Leads")
    admin_client.post(
        f"/settings/role-groups/{group.pk}/",
        {"name": "Team Leads", "permissions": ["billing.manage", "audit.view"]},
    )
    admin_client.post(f"/settings/role-groups/{group.pk}/delete/")
    assert not RoleGroup.objects.filter(pk=group.pk).exists()
    rows = audit_rows(org, section="Role Group", subject_id=str(group.pk))
    assert compact(rows) == [
        ("create", "Role Group", "name", None, "Leads", "user", "Acme Admin"),
        ("create", "Role Group", "permissions", None, ["billing.manage"], "user", "Acme Admin"),
        ("update", "Role Group", "name", "Leads", "Team Leads", "user", "Acme Admin"),
        (
            "update",
            "Role Group",
            "permissions",
            ["billing.manage"],
            ["audit.view", "billing.manage"],
            "user",
            "Acme Admin",
        ),
        ("delete", "Role Group", "name", "Team Leads", None, "user", "Acme Admin"),
        (
            "delete",
            "Role Group",
            "permissions",
            ["audit.view", "billing.manage"],
            None,
            "user",
            "Acme Admin",
        ),
    ]


def test_api_token_create_and_revoke_never_record_the_secret(org, admin_client):
    response = admin_client.post(
        "/settings/security/api-tokens/",
        {"name": "Zapier", "scopes": ["audit:read", "customers:write"]},
    )
    assert response.status_code == 201
    secret = response.context["secret"]
    assert secret.startswith("adk_") and secret in response.content.decode()
    token = ApiToken.objects.get(name="Zapier")
    assert token.secret_hash != secret and secret not in token.secret_hash
    # Shown once: the list does not show it again.
    assert secret not in admin_client.get("/settings/security/api-tokens/").content.decode()

    assert admin_client.post(f"/settings/security/api-tokens/{token.pk}/revoke/").status_code == 302
    rows = audit_rows(org, section="API Token")
    assert compact(rows) == [
        ("create", "API Token", "name", None, "Zapier", "user", "Acme Admin"),
        (
            "create",
            "API Token",
            "scopes",
            None,
            ["audit:read", "customers:write"],
            "user",
            "Acme Admin",
        ),
        ("delete", "API Token", "name", "Zapier", None, "user", "Acme Admin"),
        (
            "delete",
            "API Token",
            "scopes",
            ["audit:read", "customers:write"],
            None,
            "user",
            "Acme Admin",
        ),
    ]
    assert secret not in json.dumps(rows, default=str)
    assert not AuditEvent.objects.filter(before__icontains=secret[-12:]).exists()


@pytest.mark.parametrize(
    "url",
    ["/settings/users/", "/settings/role-groups/", "/settings/security/api-tokens/"],
)
def test_agents_cannot_open_admin_settings(agent, url):
    client = Client()
    client.force_login(agent)
    response = client.get(url)
    assert response.status_code == 403
    assert "You don’t have access" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(db):
    response = Client().get("/settings/users/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
