"""Settings > Support Access: grant, change, revoke and delete by page, with their exact rows.

Expiry is typed in the organisation's time zone and recorded in UTC.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from settings_app import services
from settings_app.models import SupportAccess
from tests.settings_app.helpers import PAGE_SECTIONS, one_change, rows, settings_rows

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
URL = "/settings/support-access/"


def local_minute(days: int) -> datetime:
    """A future minute on the Paris wall clock, aware."""
    moment = timezone.now().astimezone(PARIS) + timedelta(days=days)
    return moment.replace(second=0, microsecond=0)


def typed(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@pytest.fixture
def paris(org):
    org.time_zone = "Europe/Paris"
    org.save()
    return org


@pytest.fixture
def grant(paris):
    return services.support_access_grant(
        access_level="read_only", expires_at=local_minute(7), reason="Ticket 4821"
    )


def test_administrator_grants_access(paris, admin, admin_client):
    expires = local_minute(7)
    response = admin_client.post(
        f"{URL}new/",
        {"access_level": "full", "expires_at": typed(expires), "reason": "Ticket 4821"},
    )
    assert response.status_code == 302, response.content.decode()
    grant = SupportAccess.objects.get()
    assert grant.expires_at == expires
    who = ("user", str(admin.pk), "Acme Admin", "support_access", str(grant.pk), "Ticket 4821")
    assert rows(paris, event_type="settings", section__in=PAGE_SECTIONS) == [
        ("settings", "create", "Support Access", "enabled", None, True, *who),
        ("settings", "create", "Support Access", "access_level", None, "full", *who),
        ("settings", "create", "Support Access", "expires_at", None, iso_utc(expires), *who),
    ]
    assert one_change(settings_rows(paris))


def test_administrator_changes_level_and_expiry(paris, admin, admin_client, grant):
    old_expiry = grant.expires_at
    new_expiry = local_minute(14)
    response = admin_client.post(
        f"{URL}{grant.pk}/",
        {
            "access_level": "full",
            "expires_at": typed(new_expiry),
            "reason": "Ticket 4821",
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    who = ("user", str(admin.pk), "Acme Admin", "support_access", str(grant.pk), "Ticket 4821")
    assert rows(paris, section="Support Access", action="update") == [
        ("settings", "update", "Support Access", "access_level", "read_only", "full", *who),
        (
            "settings",
            "update",
            "Support Access",
            "expires_at",
            iso_utc(old_expiry),
            iso_utc(new_expiry),
            *who,
        ),
    ]


def test_resaving_the_edit_form_unchanged_records_nothing(paris, admin_client, grant):
    page = admin_client.get(f"{URL}{grant.pk}/").content.decode()
    assert f'value="{typed(grant.expires_at.astimezone(PARIS))}"' in page  # shown in Paris time
    before = settings_rows(paris)
    admin_client.post(
        f"{URL}{grant.pk}/",
        {
            "access_level": "read_only",
            "expires_at": typed(grant.expires_at.astimezone(PARIS)),
            "reason": "Ticket 4821",
            "enabled": "on",
        },
    )
    assert settings_rows(paris) == before


def test_administrator_revokes_access(paris, admin, admin_client, grant):
    assert admin_client.post(f"{URL}{grant.pk}/revoke/").status_code == 302
    grant.refresh_from_db()
    assert grant.enabled is False and grant.state == "Revoked"
    who = ("user", str(admin.pk), "Acme Admin", "support_access", str(grant.pk), "Ticket 4821")
    assert rows(paris, section="Support Access", action="update") == [
        ("settings", "update", "Support Access", "enabled", True, False, *who),
    ]
    # Revoking again is harmless and records nothing more.
    admin_client.post(f"{URL}{grant.pk}/revoke/")
    assert len(rows(paris, section="Support Access", action="update")) == 1


def test_revoke_needs_a_post(paris, admin_client, grant):
    assert admin_client.get(f"{URL}{grant.pk}/revoke/").status_code == 405
    grant.refresh_from_db()
    assert grant.enabled


def test_administrator_deletes_a_grant(paris, admin, admin_client, grant):
    expiry = grant.expires_at
    assert admin_client.post(f"{URL}{grant.pk}/delete/").status_code == 302
    assert not SupportAccess.objects.exists()
    who = ("user", str(admin.pk), "Acme Admin", "support_access", str(grant.pk), "Ticket 4821")
    assert rows(paris, section="Support Access", action="delete") == [
        ("settings", "delete", "Support Access", "enabled", True, None, *who),
        ("settings", "delete", "Support Access", "access_level", "read_only", None, *who),
        ("settings", "delete", "Support Access", "expires_at", iso_utc(expiry), None, *who),
    ]


def test_re_enabling_a_revoked_grant_is_recorded(paris, admin_client, grant):
    services.support_access_revoke(grant=grant)
    admin_client.post(
        f"{URL}{grant.pk}/",
        {
            "access_level": "read_only",
            "expires_at": typed(grant.expires_at.astimezone(PARIS)),
            "reason": "Ticket 4821",
            "enabled": "on",
        },
    )
    assert [row[3:6] for row in rows(paris, section="Support Access", action="update")] == [
        ("enabled", True, False),
        ("enabled", False, True),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"expires_at": "yesterday"}, "Enter a valid date/time."),
        ({"expires_at": ""}, "This field is required."),
        ({"access_level": "root"}, "Select a valid choice"),
        ({"past": True}, "The expiry must be in the future."),
    ],
)
def test_invalid_grant_input_is_refused_and_changes_nothing(
    paris, admin_client, grant, data, message
):
    form = {"access_level": "full", "expires_at": typed(local_minute(3)), "reason": "x"}
    if data.pop("past", False):
        form["expires_at"] = typed(local_minute(-1))
    form.update(data)
    before = settings_rows(paris)
    for url in (f"{URL}new/", f"{URL}{grant.pk}/"):
        response = admin_client.post(url, form | {"enabled": "on"})
        assert response.status_code == 400
        assert message in response.content.decode()
    assert settings_rows(paris) == before
    assert SupportAccess.objects.count() == 1


def test_listing_shows_state_and_local_expiry(paris, admin_client, grant):
    expired = services.support_access_grant(access_level="full", expires_at=local_minute(1))
    SupportAccess.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    page = admin_client.get(URL).content.decode()
    assert "Ticket 4821" in page and "Active" in page and "Expired" in page
    assert grant.expires_at.astimezone(PARIS).strftime("%H:%M") in page
    assert admin_client.get(f"{URL}new/").status_code == 200


def test_a_replayed_history_grants_relative_to_its_own_clock(org):
    from core import clock

    then = timezone.now() - timedelta(days=20)
    with clock.use(lambda: then):
        grant = services.support_access_grant(
            access_level="full", expires_at=then + timedelta(days=2)
        )
    assert grant.created_at == then
    assert grant.state == "Expired"
    (row,) = [r for r in rows(org, section="Support Access") if r[3] == "expires_at"]
    assert row[5] == (then + timedelta(days=2)).replace(second=0, microsecond=0).isoformat()
