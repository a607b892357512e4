"""The recorder's guarantees: same transaction as the change, request context, API and task actors, bulk paths."""

import ipaddress

import pytest
from django.db import DatabaseError, connections, transaction
from django.test import Client

from accounts.models import RoleGroup, User
from accounts.services import api_token_create, role_group_create, role_group_update, user_update
from auditlog.models import AuditEvent
from core import context
from core.context import Actor
from core.tenancy import tenant
from tests.conftest import audit_rows, compact

REFUSE_AUDIT_SQL = """
CREATE OR REPLACE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.subject_name = 'Refuse Me' OR NEW.after::text = '"Refuse Me"' THEN
    RAISE EXCEPTION 'audit write refused by test';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS test_refuse_audit ON auditlog_auditevent;
CREATE TRIGGER test_refuse_audit BEFORE INSERT ON auditlog_auditevent
  FOR EACH ROW EXECUTE FUNCTION test_refuse_audit();
"""


@pytest.fixture
def refuse_audit_writes():
    # Triggers are DDL: the tables' owner's business (its own login), not the application's.
    with connections["owner"].cursor() as cursor:
        cursor.execute(REFUSE_AUDIT_SQL)
    yield
    with connections["owner"].cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS test_refuse_audit ON auditlog_auditevent")


def _create_user_via_page(client: Client, email: str, **extra) -> None:
    group = RoleGroup.objects.get(name="Agent")
    response = client.post(
        "/settings/users/new/",
        {
            "name": "Proxy Test",
            "email": email,
            "role_group": group.pk,
            "is_active": "on",
            "password": "long-enough-pw",
        }
        | extra,
        **{k: v for k, v in extra.items() if k.startswith("HTTP_") or k == "REMOTE_ADDR"},
    )
    assert response.status_code == 302, response.content


def _ips(org, email):
    user = User.objects.get(email=email)
    return {row["ip_address"] for row in audit_rows(org, section="User", subject_id=str(user.pk))}


def test_forwarded_for_from_an_untrusted_peer_is_ignored(org, admin, settings):
    settings.TRUSTED_PROXIES = []
    client = Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.20")
    client.force_login(admin)
    _create_user_via_page(client, "spoof@acme.test")
    assert _ips(org, "spoof@acme.test") == {"10.1.2.3"}


def test_forwarded_for_from_a_trusted_proxy_gives_the_client_ip(org, admin, settings):
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    # The leftmost hop is whatever the client claimed; the proxy appended the real peer.
    client = Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20, 10.9.9.9")
    client.force_login(admin)
    _create_user_via_page(client, "proxied@acme.test")
    assert _ips(org, "proxied@acme.test") == {"198.51.100.20"}


def test_request_id_is_echoed_and_recorded(org, admin):
    client = Client(HTTP_X_REQUEST_ID="trace-abc-123")
    client.force_login(admin)
    response = client.post("/settings/role-groups/new/", {"name": "Night shift", "permissions": []})
    assert response["X-Request-ID"] == "trace-abc-123"
    rows = audit_rows(org, section="Role Group", action="create", subject_name="Night shift")
    assert len(rows) == 1 and rows[0]["request_id"] == "trace-abc-123"
    malformed = client.get("/settings/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert (
        malformed["X-Request-ID"] != "bad id with spaces\n" and len(malformed["X-Request-ID"]) == 32
    )


def test_a_change_that_raises_leaves_neither_change_nor_rows(org, agent):
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        user_update(user=agent, name="Never Saved")
        raise RuntimeError("boom")
    agent.refresh_from_db()
    assert agent.name == "Ann Agent"
    assert AuditEvent.objects.count() == before


def test_rows_of_a_rolled_back_savepoint_are_dropped_and_the_rest_kept(org, agent):
    with transaction.atomic():
        user_update(user=agent, phone="+1 555 0100")
        try:
            with transaction.atomic():
                user_update(user=agent, name="Rolled Back")
                raise ValueError("inner failure")
        except ValueError:
            pass
        agent.name = "Ann Agent"  # the instance still holds the rolled-back value
    rows = audit_rows(org, section="User", action="update")
    assert compact(rows, "property", "before", "after") == [("phone", "", "+1 555 0100")]


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_failed_audit_write_rolls_the_change_back(org, agent, refuse_audit_writes):
    with pytest.raises(DatabaseError), transaction.atomic():
        user_update(user=agent, name="Refuse Me")
    assert User.objects.get(pk=agent.pk).name == "Ann Agent"
    assert not AuditEvent.objects.filter(subject_name="Refuse Me").exists()


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_failed_audit_write_at_commit_rolls_the_change_back(refuse_audit_writes):
    from tests.conftest import make_org

    org = make_org("Commit Co", "admin@commit.test")
    with tenant(org):
        admin = User.objects.get(email="admin@commit.test")
        # One save per transaction: the rows ride along with COMMIT, and a refusal fails the commit.
        with pytest.raises(DatabaseError):
            user_update(user=admin, name="Refuse Me")
        admin.refresh_from_db()
        assert admin.name == "Commit Co Admin"
        # Many saves in one transaction, flushed by COPY at commit: all or nothing.
        groups = [role_group_create(name=f"Group {n}", permissions=[]) for n in range(70)]
        with pytest.raises(DatabaseError), transaction.atomic():
            for group in groups:
                role_group_update(group=group, name=f"{group.name} renamed")
            user_update(user=admin, name="Refuse Me")
        assert not RoleGroup.objects.filter(name__endswith="renamed").exists()
        assert not AuditEvent.objects.for_org(org.pk).filter(action="update").exists()
        # And an ordinary commit writes its rows.
        user_update(user=admin, name="Committed Name")
        assert (
            AuditEvent.objects.for_org(org.pk)
            .filter(action="update", after="Committed Name")
            .count()
            == 1
        )


@pytest.mark.urls("tests.auditlog.token_api")
def test_a_change_made_with_an_api_token_is_performed_by_api(org, other_org):
    token, secret = api_token_create(name="Zapier")
    group = RoleGroup.objects.get(name="Agent")
    client = Client(REMOTE_ADDR="192.0.2.44")
    response = client.post(
        f"/test-api/role-groups/{group.pk}/",
        {"name": "Agents"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    (row,) = audit_rows(org, section="Role Group", action="update")
    token_id = str(token.pk)
    assert compact(
        [row], "property", "before", "after", "actor_type", "actor_id", "actor_name", "ip_address"
    ) == [("name", "Agent", "Agents", "api", token_id, "Zapier", "192.0.2.44")]
    # Another organisation's object through this token: 404, nothing changes.
    with tenant(other_org):
        foreign = RoleGroup.objects.get(name="Agent")
    response = client.post(
        f"/test-api/role-groups/{foreign.pk}/",
        {"name": "Hijacked"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 404
    assert RoleGroup.all_tenants.get(pk=foreign.pk).name == "Agent"
    # A forged token is refused with 401, not treated as anonymous.
    response = client.post(
        f"/test-api/role-groups/{group.pk}/",
        {"name": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret[:-3]}abc",
    )
    assert response.status_code == 401


def test_bulk_update_and_bulk_create_are_recorded(org, agent):
    with context.use(actor=Actor("workflow", "7", "Nightly cleanup")):
        changed = User.objects.filter(pk=agent.pk).update(phone="+44 1", is_active=False)
        RoleGroup.objects.bulk_create(
            [RoleGroup(name="Bulk A", org_id=org.pk), RoleGroup(name="Bulk B", org_id=org.pk)]
        )
    assert changed == 1
    rows = audit_rows(org, actor_type="workflow")
    assert compact(rows, "action", "section", "property", "before", "after", "actor_name") == [
        ("update", "User", "phone", "", "+44 1", "Nightly cleanup"),
        ("update", "User", "is_active", True, False, "Nightly cleanup"),
        ("create", "Role Group", "name", None, "Bulk A", "Nightly cleanup"),
        ("create", "Role Group", "name", None, "Bulk B", "Nightly cleanup"),
    ]


def test_an_update_that_changes_nothing_records_nothing(org, agent):
    before = AuditEvent.objects.count()
    user_update(user=agent, name="Ann Agent")
    assert AuditEvent.objects.count() == before


def test_no_request_context_means_system_actor(org):
    role_group_create(name="From a shell", permissions=[])
    (row,) = audit_rows(org, section="Role Group", subject_name="From a shell")[:1]
    assert (row["actor_type"], row["actor_id"], row["actor_name"], row["ip_address"]) == (
        "system",
        None,
        "System",
        None,
    )


TRICKY_NAMES = [
    'O\'Brien "Quoted"',
    "back\\slash \\' and $1 %s %(x)s",
    "emoji 🦉 and ünïcödé, right-to-left עברית",
    "'); DELETE FROM auditlog_auditevent; --",
    "tab\tand\nnewline",
]


@pytest.mark.django_db(transaction=True)
def test_values_that_need_quoting_arrive_exactly_in_small_and_large_batches():
    """The rows travel as one JSON text parameter: a prepared EXECUTE for small batches,
    an inline INSERT for large ones, each ending in COMMIT. Both must keep every byte."""
    from tests.conftest import make_org

    org = make_org("Quote Co", "admin@quote.test")
    with tenant(org):
        admin = User.objects.get(email="admin@quote.test")
        for name in TRICKY_NAMES:  # one save per transaction: the prepared path
            user_update(user=admin, name=name)
        groups = [role_group_create(name=f"Q {n}", permissions=[]) for n in range(20)]
        with transaction.atomic():  # 20 rows in one commit: the inline path
            for group, name in zip(groups, TRICKY_NAMES * 4, strict=True):
                role_group_update(group=group, name=f"{name} {group.pk}")
        user_rows = audit_rows(org, section="User", property="name", action="update")
        group_rows = audit_rows(org, section="Role Group", property="name", action="update")
    assert [row["after"] for row in user_rows] == TRICKY_NAMES
    assert sorted(row["after"] for row in group_rows) == sorted(
        f"{name} {group.pk}" for group, name in zip(groups, TRICKY_NAMES * 4, strict=True)
    )
    assert {row["ip_address"] for row in group_rows} == {None}
    assert len({row["change_id"] for row in group_rows}) == 20
