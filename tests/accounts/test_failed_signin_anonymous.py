"""Failed sign-ins are performed by `anonymous` (SPEC 8.3): the subject is the account tried,
the metadata the email tried and why it failed; a lockout is the system's, after the attempt
that caused it."""

import re

import pytest
from django.test import Client

from accounts.services import user_update
from auditlog.models import AuditEvent
from core import context
from tests.conftest import PASSWORD, audit_rows, compact

IP = "185.220.101.47"
UA = "python-requests/2.31"
ANONYMOUS = ("anonymous", None, "Unknown")
AUDIT_LOG = "/settings/security/audit-log/"


def attacker() -> Client:
    return Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=UA)


def sign_in(client: Client, email: str, password: str) -> int:
    return client.post("/accounts/login/", {"username": email, "password": password}).status_code


def session_rows(org):
    return audit_rows(org, section="Session")


def test_a_wrong_password_is_performed_by_anonymous_about_the_account_tried(org, admin):
    assert sign_in(attacker(), "Admin@Acme.test", "not-the-password") == 200

    (row,) = session_rows(org)
    assert row | {"change_id": None, "request_id": None} == {
        "event_type": "authorization",
        "action": "login_failed",
        "section": "Session",
        "property": None,
        "before": None,
        "after": None,
        "actor_type": "anonymous",
        "actor_id": None,
        "actor_name": "Unknown",
        "subject_type": "user",
        "subject_id": str(admin.pk),
        "subject_name": "Acme Admin",
        "ip_address": IP,
        "user_agent": UA,
        "change_id": None,
        "metadata": {"email_tried": "admin@acme.test", "reason": "wrong_password"},
        "request_id": None,
    }


def test_an_inactive_account_with_its_right_password_fails_as_inactive(org, admin, agent):
    with context.use(actor=context.Actor.for_user(admin)):
        user_update(user=agent, is_active=False)
    assert sign_in(attacker(), agent.email, PASSWORD) == 200

    rows = session_rows(org)
    assert compact(rows, "action", "actor_type", "actor_id", "actor_name", "subject_id") == [
        ("login_failed", *ANONYMOUS, str(agent.pk))
    ]
    assert rows[0]["metadata"] == {"email_tried": agent.email, "reason": "inactive"}


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_an_unknown_email_is_an_anonymous_row_of_the_platform_chain_without_subject(org):
    assert sign_in(attacker(), "ghost@acme.test", "whatever-it-is") == 200

    assert session_rows(org) == []
    # No organisation's row: the owner's login reads the platform chain.
    with context.use(org_id=None):
        row = AuditEvent.objects.using("owner").get(org_id=None, action="login_failed")
    assert (row.actor_type, row.actor_id, row.actor_name) == ANONYMOUS
    assert (row.subject_type, row.subject_id, row.subject_name) == ("user", None, "")
    assert row.metadata == {"email_tried": "ghost@acme.test", "reason": "unknown_email"}


def test_repeated_failures_then_a_locked_attempt(org, agent, settings):
    client = attacker()
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [sign_in(client, agent.email, "wrong-password") for _ in range(limit)]
    assert statuses == [200] * (limit - 1) + [429]
    # The right password, while locked: refused before any password check.
    assert sign_in(client, agent.email, PASSWORD) == 429

    rows = session_rows(org)
    performed = [
        (
            row["action"],
            row["actor_type"],
            row["actor_id"],
            row["actor_name"],
            row["subject_id"],
            row["metadata"].get("reason"),
        )
        for row in rows
    ]
    lockout = ("lockout", "system", None, "System", str(agent.pk), None)
    assert performed == [
        *[("login_failed", *ANONYMOUS, str(agent.pk), "wrong_password")] * limit,
        # The lockout is the product's doing, recorded after the failure that caused it.
        lockout,
        ("login_failed", *ANONYMOUS, str(agent.pk), "locked"),
        # Failing while locked extends the lock (django-axes counts it): a new unlock time.
        lockout,
    ]
    first_lockout = rows[limit]
    assert first_lockout["metadata"]["email_tried"] == agent.email
    assert first_lockout["metadata"]["failed_attempts"] == limit
    assert "unlock_at" in first_lockout["metadata"]
    assert {row["ip_address"] for row in rows} == {IP}
    assert not any(row["actor_type"] == "user" for row in rows)


def test_the_viewer_and_the_api_name_nobody_for_a_failed_sign_in(org, admin, admin_client):
    assert sign_in(attacker(), admin.email, "not-the-password") == 200

    html = admin_client.get(AUDIT_LOG, {"event_type": "authorization"}).content.decode()
    row = re.search(r'<tbody [^>]*data-action="login_failed".*?</tbody>', html, re.S).group(0)
    assert '<span class="actor actor-anonymous">Unknown (not signed in)</span>' in row
    assert "Acme Admin" in row  # the account tried, as the subject
    assert 'class="actor actor-user"' not in row

    body = admin_client.get("/api/v1/audit-events/", {"actor_type": "anonymous"}).json()
    (event,) = body["results"]
    assert event["performed_by"] == {"type": "anonymous", "id": None, "name": "Unknown"}
    assert event["subject"] == {"type": "user", "id": str(admin.pk), "name": "Acme Admin"}
    assert event["metadata"] == {"email_tried": admin.email, "reason": "wrong_password"}
