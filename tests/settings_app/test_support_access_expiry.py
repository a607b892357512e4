"""Support access ends by itself at `expires_at` (SPEC 8.3): a beat task disables the grant,
performed by `system` with metadata.reason "expired"."""

import re
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from config.celery import app
from core import clock, context
from core.tenancy import tenant
from settings_app import services
from settings_app.models import SupportAccess
from settings_app.tasks import support_access_expire_all
from tests.conftest import audit_rows
from tests.settings_app.helpers import rows

AUDIT_LOG = "/settings/security/audit-log/"


def grant_expiring(minutes_ago: float, reason: str) -> SupportAccess:
    """A grant made earlier, on that moment's clock, that expired `minutes_ago`."""
    made = timezone.now() - timedelta(days=1)
    with clock.use(lambda: made):
        return services.support_access_grant(
            access_level="full",
            expires_at=timezone.now() - timedelta(minutes=minutes_ago),
            reason=reason,
        )


def expiry_rows(org):
    return [row for row in rows(org, section="Support Access") if row[1] == "update"]


def expired_row(grant: SupportAccess) -> tuple:
    return (
        "settings",
        "update",
        "Support Access",
        "enabled",
        True,
        False,
        "system",
        None,
        "System",
        "support_access",
        str(grant.pk),
        grant.reason,
    )


def test_grants_past_their_expiry_are_disabled_by_the_system(org, other_org):
    expired = grant_expiring(5, "Ticket 1: expired")
    active = services.support_access_grant(
        access_level="read_only", expires_at=timezone.now() + timedelta(days=2), reason="Live"
    )
    revoked = services.support_access_revoke(grant=grant_expiring(10, "Ticket 2: revoked"))
    with tenant(other_org):
        elsewhere = grant_expiring(1, "Globex ticket")
    before = expiry_rows(org)

    assert support_access_expire_all() == 2

    assert SupportAccess.objects.get(pk=expired.pk).enabled is False
    assert SupportAccess.objects.get(pk=active.pk).enabled is True
    assert expiry_rows(org) == [*before, expired_row(expired)]
    (row,) = audit_rows(org, section="Support Access", subject_id=str(expired.pk), action="update")
    assert row["metadata"] == {"reason": "expired"}
    assert revoked.pk not in {int(r[10]) for r in expiry_rows(org)[len(before) :]}
    # Each organisation's grant in its own log.
    with tenant(other_org):
        assert SupportAccess.objects.get(pk=elsewhere.pk).enabled is False
    assert expiry_rows(other_org) == [expired_row(elsewhere)]

    # Nothing left to expire: a second run changes and records nothing.
    assert support_access_expire_all() == 0
    assert expiry_rows(org) == [*before, expired_row(expired)]
    assert SupportAccess.objects.get(pk=expired.pk).state == "Expired"


def test_the_expiry_is_the_systems_even_inside_someones_request_context(org, admin):
    grant = grant_expiring(1, "Ticket 3")
    with context.use(actor=context.Actor.for_user(admin)):
        assert services.support_access_expire() == [grant.pk]
    assert expiry_rows(org)[-1] == expired_row(grant)


def test_the_audit_log_says_the_system_ended_it_because_it_expired(org, admin_client):
    grant_expiring(1, "Ticket 4")
    support_access_expire_all()
    html = admin_client.get(AUDIT_LOG, {"event_type": "settings", "kind": "support_access"})
    row = re.search(r'<tbody [^>]*data-action="update".*?</tbody>', html.content.decode(), re.S)
    assert '<span class="actor actor-system">System (expired)</span>' in row.group(0)


def test_beat_runs_it_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["support-access-expire"]
    assert entry == {"task": support_access_expire_all.name, "schedule": 60.0}
    assert support_access_expire_all.name in app.tasks


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_ends_an_expired_grant(org):
    grant = grant_expiring(2, "Ticket 5: through the worker")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        support_access_expire_all.delay()
        deadline = time.monotonic() + 30
        while SupportAccess.objects.get(pk=grant.pk).enabled:
            assert time.monotonic() < deadline, "the worker did not expire the grant"
            time.sleep(0.05)
    assert expiry_rows(org) == [expired_row(grant)]
    (row,) = audit_rows(org, section="Support Access", action="update")
    assert row["metadata"] == {"reason": "expired"}
