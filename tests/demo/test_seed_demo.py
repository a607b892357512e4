"""seed_demo builds Acme Support and a month of history that uses every kind of event."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Organization, User
from auditlog import catalog
from auditlog.models import AuditEvent
from core.tenancy import tenant

SPEC_SECTIONS = {
    "Session",
    "User",
    "Role Group",
    "API Token",
    "Plan",
    "Seats",
    "Search",
    "Shortcut",
    "Business Rule",
    "Support Access",
    "Organisation",
    "Workflow",
    "Work Session",
    "Conversation",
    "Customer",
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_seed_demo_builds_a_history_with_every_event_type_section_and_performer(settings):
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    assert "Acme Support created" in out.getvalue()

    org = Organization.objects.get(name="Acme Support")
    # Row-level security: the log is read within its organisation's context.
    with tenant(org):
        events = AuditEvent.objects.for_org(org.pk)
        assert set(events.values_list("event_type", flat=True).distinct()) == set(
            catalog.EVENT_TYPES
        )
        assert SPEC_SECTIONS <= set(events.values_list("section", flat=True).distinct())
        assert set(events.values_list("actor_type", flat=True).distinct()) == set(
            catalog.ACTOR_TYPES
        )
        assert {
            "create", "update", "delete", "login", "logout", "login_failed", "lockout",
            "assign", "unassign", "session_start", "session_end",
        } <= set(events.values_list("action", flat=True).distinct())  # fmt: skip
        # The month is spread over 30 days, with the automations' signature rows among it.
        first, last = events.order_by("occurred_at").first(), events.order_by("occurred_at").last()
        assert (last.occurred_at - first.occurred_at).days >= 29
        assert events.filter(
            section="Work Session", actor_type="system", metadata__reason="heartbeat_lapse"
        ).exists()
        assert events.filter(action="assign", metadata__over_capacity=True).exists()
        assert events.filter(action="assign", actor_type="queue_router").count() > 50
        assert events.filter(section="Conversation", actor_type="business_rule").count() > 20
        # SPEC 8.3: failed sign-ins by nobody, an expiry by the system, both settings sections.
        assert not events.filter(action="login_failed").exclude(actor_type="anonymous").exists()
        assert events.filter(
            section="Support Access", actor_type="system", metadata__reason="expired"
        ).exists()
        assert events.filter(section="Organisation", action="update", actor_type="user").exists()
        assert events.filter(section="Workflow", action="update", actor_type="user").exists()

        agents = User.objects.filter(is_active=True, role_group__name__in=["Agent", "Team Lead"])
        assert agents.count() == 10

    # The administrator signs in with the documented password (and the hash is upgraded).
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    response = Client().post(
        "/accounts/login/", {"username": "admin@acme.test", "password": "auditdesk-demo"}
    )
    assert response.status_code == 302
    admin = User.all_tenants.get(email="admin@acme.test")
    assert admin.password.startswith("pbkdf2_sha256$1000000$")

    # Idempotent: a second run changes nothing.
    with tenant(org):
        count = events.count()
    again = io.StringIO()
    call_command("seed_demo", stdout=again, stderr=io.StringIO())
    assert "already exists" in again.getvalue()
    with tenant(org):
        assert AuditEvent.objects.for_org(org.pk).count() == count
