"""Privilege escalation, attacked as a user with fewer permissions would (SPEC §8.2, issue 15).

Nobody grants a permission they do not hold, changes their own role group or role, or takes
over an account that holds more than they do; the last administrator always stays. The rules
live in the services, so the pages below and any API refuse alike.
"""

import io
import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection, transaction
from django.shortcuts import get_object_or_404
from django.test import Client
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiToken, RoleGroup, User
from accounts.permissions import ADMINISTRATOR, AGENT, PERMISSIONS
from core.tenancy import tenant
from tests.conftest import PASSWORD, audit_rows, compact

AUDIT_LOG = "/settings/security/audit-log/"
API_TOKENS = "/settings/security/api-tokens/"
EVERY_PERMISSION = sorted(PERMISSIONS)


class GrantPermissions(APIView):
    """An API endpoint as any future one would be: thin, the service decides."""

    def post(self, request, pk: int) -> Response:
        group = get_object_or_404(RoleGroup.objects, pk=pk)
        services.role_group_update(group=group, permissions=request.data["permissions"])
        return Response({"id": group.pk, "permissions": group.permissions})


urlpatterns = [path("test-api/role-groups/<int:pk>/permissions/", GrantPermissions.as_view())]


@pytest.fixture
def managers(org) -> RoleGroup:
    return services.role_group_create(name="User managers", permissions=["users.manage"])


@pytest.fixture
def manager(managers) -> User:
    return services.user_create(
        email="mo@acme.test", password=PASSWORD, name="Mo Manager", role_group=managers
    )


@pytest.fixture
def manager_client(manager) -> Client:
    client = Client(REMOTE_ADDR="198.51.100.66")
    client.force_login(manager)
    return client


def group(name: str) -> RoleGroup:
    return RoleGroup.objects.get(name=name)


def refused(response, message: str) -> None:
    assert response.status_code == 400, response.status_code
    assert message in response.content.decode()


def still_locked_out(client: Client) -> None:
    assert client.get(AUDIT_LOG).status_code == 403
    assert client.get(API_TOKENS).status_code == 403


def changes_recorded(org, section: str) -> list[tuple]:
    return compact(audit_rows(org, section=section, action="update"), "property", "after")


# The attack of issue 15 and its variants, through the real pages ---------------------------


def test_a_user_manager_cannot_add_permissions_to_their_own_role_group(
    org, managers, manager_client
):
    still_locked_out(manager_client)
    response = manager_client.post(
        f"/settings/role-groups/{managers.pk}/",
        {"name": "User managers", "permissions": EVERY_PERMISSION},
    )
    refused(response, "You cannot change your own role group")
    managers.refresh_from_db()
    assert managers.permissions == ["users.manage"]
    still_locked_out(manager_client)
    assert audit_rows(org, section="Role Group", action="update") == []


def test_a_user_manager_cannot_rename_their_own_role_group(org, managers, manager_client):
    response = manager_client.post(
        f"/settings/role-groups/{managers.pk}/",
        {"name": "Owners", "permissions": ["users.manage"]},
    )
    refused(response, "You cannot change your own role group")
    assert group("User managers").pk == managers.pk
    assert audit_rows(org, section="Role Group", action="update") == []


def test_a_user_manager_cannot_add_permissions_they_lack_to_another_group(
    org, manager, manager_client
):
    agents = group(AGENT)
    response = manager_client.post(
        f"/settings/role-groups/{agents.pk}/",
        {"name": AGENT, "permissions": ["conversations.work", "audit.view", "tokens.manage"]},
    )
    refused(response, "You cannot grant permissions you do not hold: audit.view, tokens.manage.")
    agents.refresh_from_db()
    assert agents.permissions == ["conversations.work"]
    assert audit_rows(org, section="Role Group", action="update") == []


def test_a_user_manager_cannot_remove_permissions_they_lack_from_another_group(
    org, manager, manager_client
):
    response = manager_client.post(
        f"/settings/role-groups/{group(AGENT).pk}/", {"name": AGENT, "permissions": []}
    )
    refused(response, "You cannot remove permissions you do not hold: conversations.work.")
    assert group(AGENT).permissions == ["conversations.work"]
    assert audit_rows(org, section="Role Group", action="update") == []


def test_a_user_manager_cannot_create_a_group_with_permissions_they_lack(
    org, manager, manager_client
):
    response = manager_client.post(
        "/settings/role-groups/new/", {"name": "Auditors", "permissions": ["audit.view"]}
    )
    refused(response, "You cannot grant permissions you do not hold: audit.view.")
    assert not RoleGroup.objects.filter(name="Auditors").exists()
    assert audit_rows(org, section="Role Group", subject_name="Auditors") == []


def test_nobody_moves_themselves_into_the_administrator_group(org, manager, manager_client):
    response = manager_client.post(
        f"/settings/users/{manager.pk}/",
        {
            "name": "Mo Manager",
            "email": "mo@acme.test",
            "role_group": group(ADMINISTRATOR).pk,
            "is_active": "on",
        },
    )
    refused(response, "You cannot change your own role group")
    manager.refresh_from_db()
    assert manager.role_group.name == "User managers"
    still_locked_out(manager_client)
    assert audit_rows(org, section="User", action="update") == []


def test_nobody_changes_their_own_role_even_to_a_lesser_one(org, manager, manager_client):
    response = manager_client.post(
        f"/settings/users/{manager.pk}/",
        {"name": "Mo", "email": "mo@acme.test", "role_group": group(AGENT).pk, "is_active": "on"},
    )
    refused(response, "You cannot change your own role group")
    manager.refresh_from_db()
    assert (manager.name, manager.role_group.name) == ("Mo Manager", "User managers")
    assert audit_rows(org, section="User", action="update") == []


def test_a_user_manager_cannot_move_another_user_into_a_more_powerful_group(
    org, managers, manager, manager_client
):
    accomplice = services.user_create(
        email="ace@acme.test", password=PASSWORD, name="Ace", role_group=managers
    )
    response = manager_client.post(
        f"/settings/users/{accomplice.pk}/",
        {
            "name": "Ace",
            "email": "ace@acme.test",
            "role_group": group(ADMINISTRATOR).pk,
            "is_active": "on",
        },
    )
    refused(response, "You cannot grant permissions you do not hold: audit.export, audit.view")
    accomplice.refresh_from_db()
    assert accomplice.role_group == managers
    assert audit_rows(org, section="User", action="update") == []
    # Nor created as one.
    response = manager_client.post(
        "/settings/users/new/",
        {
            "name": "Accomplice",
            "email": "accomplice@acme.test",
            "role_group": group(ADMINISTRATOR).pk,
            "is_active": "on",
            "password": "a-long-enough-secret",
        },
    )
    refused(response, "You cannot grant permissions you do not hold")
    assert not User.objects.filter(email="accomplice@acme.test").exists()
    assert audit_rows(org, section="User", subject_name="Accomplice") == []


def test_a_user_manager_cannot_take_over_an_administrators_account(
    org, admin, manager, manager_client
):
    edit = f"/settings/users/{admin.pk}/"
    refused(
        manager_client.post(f"{edit}password/", {"password": "attacker-knows-this"}),
        "You cannot change Acme Admin",
    )
    refused(
        manager_client.post(
            edit,
            {
                "name": "Acme Admin",
                "email": "mo+takeover@acme.test",
                "role_group": group(ADMINISTRATOR).pk,
                "is_active": "on",
            },
        ),
        "You cannot change Acme Admin",
    )
    refused(manager_client.post(f"{edit}delete/"), "You cannot change Acme Admin")
    admin.refresh_from_db()
    assert admin.email == "admin@acme.test" and admin.check_password(PASSWORD)
    assert audit_rows(org, section="User", action__in=["update", "delete"]) == []
    signed_in = Client().post(
        "/accounts/login/", {"username": "admin@acme.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 302


def test_a_user_manager_cannot_take_over_an_agent_whose_work_they_may_not_do(
    org, manager, manager_client, agent
):
    response = manager_client.post(
        f"/settings/users/{agent.pk}/password/", {"password": "attacker-knows-this"}
    )
    refused(response, "You cannot change Ann Agent: their role group holds conversations.work")
    agent.refresh_from_db()
    assert agent.check_password(PASSWORD)
    assert audit_rows(org, section="User", action__in=["update", "delete"]) == []


def test_a_token_manager_cannot_mint_a_token_that_reads_the_audit_log(org):
    keepers = services.role_group_create(name="Integrations", permissions=["tokens.manage"])
    keeper = services.user_create(email="ike@acme.test", password=PASSWORD, role_group=keepers)
    client = Client()
    client.force_login(keeper)
    response = client.post(API_TOKENS, {"name": "Backdoor", "scopes": ["audit:read"]})
    refused(response, "You cannot grant permissions you do not hold: audit.view.")
    assert not ApiToken.objects.exists()
    assert audit_rows(org, section="API Token") == []
    assert client.get(AUDIT_LOG).status_code == 403


@pytest.mark.urls(__name__)
def test_an_api_refuses_the_same_escalation_with_403_and_the_reason(org, managers, manager):
    client = Client()
    client.force_login(manager)
    response = client.post(
        f"/test-api/role-groups/{group(AGENT).pk}/permissions/",
        {"permissions": ["conversations.work", "audit.view"]},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "You cannot grant permissions you do not hold: audit.view."
    )
    # An API token acts for no person and holds no permissions: it grants none either.
    _, secret = services.api_token_create(name="Zapier")
    response = Client().post(
        f"/test-api/role-groups/{managers.pk}/permissions/",
        {"permissions": ["users.manage", "tokens.manage"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 403
    assert "tokens.manage" in response.json()["error"]["message"]
    assert group("User managers").permissions == ["users.manage"]
    assert audit_rows(org, section="Role Group", action="update") == []


# The last administrator ---------------------------------------------------------------------


def test_the_only_administrator_cannot_demote_deactivate_or_delete_themselves(
    org, admin, admin_client
):
    edit = f"/settings/users/{admin.pk}/"
    fields = {"name": "Acme Admin", "email": "admin@acme.test", "is_active": "on"}
    refused(
        admin_client.post(edit, fields | {"role_group": group(AGENT).pk}),
        "You cannot change your own role group",
    )
    refused(
        admin_client.post(edit, fields | {"role_group": group(ADMINISTRATOR).pk, "is_active": ""}),
        "You cannot deactivate your own account",
    )
    refused(admin_client.post(f"{edit}delete/"), "You cannot delete your own account")
    refused(
        admin_client.post(
            f"/settings/role-groups/{group(ADMINISTRATOR).pk}/",
            {"name": ADMINISTRATOR, "permissions": ["users.manage"]},
        ),
        "You cannot change your own role group",
    )
    refused(
        admin_client.post(f"/settings/role-groups/{group(ADMINISTRATOR).pk}/delete/"),
        "You cannot change your own role group",
    )
    admin.refresh_from_db()
    assert admin.is_active and admin.role_group.permissions == EVERY_PERMISSION
    assert admin_client.get(AUDIT_LOG).status_code == 200
    assert audit_rows(org, section="User", action__in=["update", "delete"]) == []
    assert audit_rows(org, section="Role Group", action__in=["update", "delete"]) == []


def test_no_command_or_automation_can_remove_the_last_administrator(org, admin):
    # No acting person: only the rules that protect the organisation itself apply.
    message = "without an active administrator"
    with pytest.raises(PermissionDenied, match=message):
        services.user_update(user=admin, role_group=group(AGENT))
    with pytest.raises(PermissionDenied, match=message):
        services.user_update(user=admin, is_active=False)
    with pytest.raises(PermissionDenied, match=message):
        services.user_delete(user=admin)
    with pytest.raises(PermissionDenied, match=message):
        services.role_group_update(group=group(ADMINISTRATOR), permissions=["users.manage"])
    with pytest.raises(PermissionDenied):
        services.role_group_delete(group=group(ADMINISTRATOR))
    admin.refresh_from_db()
    assert admin.is_active and admin.role_group.name == ADMINISTRATOR
    assert group(ADMINISTRATOR).permissions == EVERY_PERMISSION
    assert audit_rows(org, section="User", action__in=["update", "delete"]) == []


def test_an_inactive_administrator_does_not_count_as_the_one_who_remains(org, admin):
    spare = services.user_create(
        email="spare@acme.test", password=None, role_group=group(ADMINISTRATOR), is_active=False
    )
    with pytest.raises(PermissionDenied, match="without an active administrator"):
        services.user_update(user=admin, is_active=False)
    services.user_update(user=spare, is_active=True)
    services.user_update(user=admin, is_active=False)
    assert list(User.objects.filter(is_active=True, role_group__name=ADMINISTRATOR)) == [spare]


@pytest.mark.django_db(transaction=True)
def test_two_administrators_demoted_at_once_leave_one(org, admin):
    second = services.user_create(
        email="second@acme.test", password=None, role_group=group(ADMINISTRATOR)
    )
    demoted, release = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def demote(user_id: int, name: str, *, hold: bool) -> None:
        try:
            with tenant(org), transaction.atomic():
                user = User.objects.get(pk=user_id)
                services.user_update(user=user, role_group=group(AGENT))
                demoted.set()
                if hold:
                    release.wait(10)
            outcomes[name] = "demoted"
        except PermissionDenied as problem:
            outcomes[name] = str(problem)
        finally:
            connection.close()

    first = threading.Thread(target=demote, args=(admin.pk, "first"), kwargs={"hold": True})
    first.start()
    assert demoted.wait(10)
    other = threading.Thread(target=demote, args=(second.pk, "second"), kwargs={"hold": False})
    other.start()
    other.join(0.5)
    assert other.is_alive(), "the second demotion did not wait for the first to commit"
    release.set()
    first.join(10)
    other.join(10)
    assert outcomes["first"] == "demoted"
    assert "without an active administrator" in outcomes["second"]
    assert list(User.objects.filter(role_group__name=ADMINISTRATOR)) == [second]


# What stays possible ---------------------------------------------------------------------------


def test_an_administrator_can_still_do_every_legitimate_thing(org, admin_client, agent):
    response = admin_client.post(
        "/settings/role-groups/new/", {"name": "Auditors", "permissions": ["audit.view"]}
    )
    assert response.status_code == 302
    agents = group(AGENT)
    response = admin_client.post(
        f"/settings/role-groups/{agents.pk}/",
        {"name": AGENT, "permissions": ["conversations.work", "routing.manage"]},
    )
    assert response.status_code == 302
    edit = f"/settings/users/{agent.pk}/"
    fields = {"name": "Ann Agent", "email": "agent@acme.test", "is_active": "on"}
    assert (
        admin_client.post(edit, fields | {"role_group": group(ADMINISTRATOR).pk}).status_code == 302
    )
    promoted = Client()
    promoted.force_login(agent)
    assert promoted.get(AUDIT_LOG).status_code == 200
    assert admin_client.post(edit, fields | {"role_group": agents.pk}).status_code == 302
    assert promoted.get(AUDIT_LOG).status_code == 403
    assert (
        admin_client.post(f"{edit}password/", {"password": "a-new-long-secret"}).status_code == 302
    )
    assert (
        admin_client.post(edit, fields | {"role_group": agents.pk, "is_active": ""}).status_code
        == 302
    )
    response = admin_client.post(API_TOKENS, {"name": "SIEM", "scopes": list(ApiToken.SCOPES)})
    assert response.status_code == 201
    assert admin_client.post(f"{edit}delete/").status_code == 302
    assert changes_recorded(org, "Role Group") == [
        ("permissions", ["conversations.work", "routing.manage"])
    ]
    assert changes_recorded(org, "User") == [
        ("role_group", "Administrator"),
        ("role_group", "Agent"),
        ("password", "[redacted]"),
        ("is_active", False),
    ]


def test_a_user_manager_can_manage_users_and_groups_within_their_own_permissions(
    org, managers, manager, manager_client
):
    response = manager_client.post(
        "/settings/role-groups/new/", {"name": "Deputies", "permissions": ["users.manage"]}
    )
    assert response.status_code == 302
    deputies = group("Deputies")
    fields = {"name": "Dee Deputy", "email": "dee@acme.test", "is_active": "on"}
    response = manager_client.post(
        "/settings/users/new/",
        fields | {"role_group": deputies.pk, "password": "a-long-enough-secret"},
    )
    assert response.status_code == 302
    deputy = User.objects.get(email="dee@acme.test")
    edit = f"/settings/users/{deputy.pk}/"
    assert manager_client.post(edit, fields | {"role_group": managers.pk}).status_code == 302
    assert manager_client.post(f"{edit}password/", {"password": "b-long-secret"}).status_code == 302
    response = manager_client.post(
        f"/settings/role-groups/{deputies.pk}/", {"name": "Former deputies", "permissions": []}
    )
    assert response.status_code == 302
    assert manager_client.post(f"{edit}delete/").status_code == 302
    own = {"name": "Mo M.", "email": "mo@acme.test", "role_group": managers.pk}
    refused(manager_client.post(f"/settings/users/{manager.pk}/", own), "deactivate your own")
    assert (
        manager_client.post(f"/settings/users/{manager.pk}/", own | {"is_active": "on"}).status_code
        == 302
    )
    assert User.objects.get(pk=manager.pk).name == "Mo M."
    assert compact(
        audit_rows(org, section="Role Group", subject_id=str(deputies.pk)),
        "action",
        "property",
        "after",
    ) == [
        ("create", "name", "Deputies"),
        ("create", "permissions", ["users.manage"]),
        ("update", "name", "Former deputies"),
        ("update", "permissions", []),
    ]


def test_commands_and_a_second_administrator_keep_working(org, admin):
    call_command(
        "create_user",
        org=org.pk,
        email="second@acme.test",
        password=PASSWORD,
        role=ADMINISTRATOR,
        stdout=io.StringIO(),
    )
    second = User.objects.get(email="second@acme.test")
    # With a second administrator one of them may go; then the other is the last.
    services.user_update(user=admin, role_group=group(AGENT))
    with pytest.raises(PermissionDenied, match="without an active administrator"):
        services.user_delete(user=second)
    services.user_update(user=admin, role_group=group(ADMINISTRATOR))
    services.user_delete(user=second)
    assert not User.objects.filter(email="second@acme.test").exists()
