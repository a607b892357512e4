"""Settings > Organisation (SPEC 8.3): name, time zone, connectivity grace and retention per
event type, by Administrators only; every change an audited `settings` row in section
`Organisation` (Kind `organisation`), retention through `retention_set` (the sealed policy)."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import Organization, User
from accounts.permissions import PERMISSIONS, ChangeRefused
from accounts.services import organization_settings_update, role_group_create, user_create
from auditlog import catalog
from auditlog.models import AuditRetention
from core import context
from tests.conftest import PASSWORD, audit_rows, compact, make_org

URL = "/settings/organisation/"
AUDIT_LOG = "/settings/security/audit-log/"


def form_data(org: Organization, **changes: str) -> dict[str, str]:
    """The page's form as the browser posts it, unchanged, with these fields changed."""
    data = {
        "name": org.name,
        "time_zone": org.time_zone,
        "heartbeat_grace_seconds": str(org.heartbeat_grace_seconds),
        "retention_days": str(org.audit_retention_days),
        **{f"retention_{event_type}": "" for event_type in catalog.EVENT_TYPES},
    }
    return data | changes


def organisation_rows(org, **filters):
    return audit_rows(org, section="Organisation", **filters)


def changes_of(rows):
    return compact(rows, "action", "property", "before", "after", "actor_type", "actor_name")


def test_provisioning_records_the_organisation_as_created(db):
    org = make_org("Initech", "admin@initech.test")
    rows = organisation_rows(org)
    assert compact(rows, "action", "property", "before", "after", "subject_type") == [
        ("create", "name", None, "Initech", "organization"),
        ("create", "time_zone", None, "UTC", "organization"),
        ("create", "heartbeat_grace_seconds", None, 90, "organization"),
    ]
    assert {(row["event_type"], row["subject_id"]) for row in rows} == {("settings", str(org.pk))}


def test_the_page_shows_the_current_settings_and_the_nav_links_it(org, admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="name" value="Acme"' in html
    assert '<option value="UTC" selected>UTC</option>' in html
    assert 'name="heartbeat_grace_seconds" value="90"' in html
    for event_type in catalog.EVENT_TYPES:
        assert f'name="retention_{event_type}"' in html
    assert 'href="/settings/organisation/" aria-current="page"' in html
    assert 'href="/settings/organisation/"' in admin_client.get("/settings/users/").content.decode()


def test_administrator_changes_everything_and_each_change_is_a_row(org, admin, admin_client):
    before = len(organisation_rows(org))
    response = admin_client.post(
        URL,
        form_data(
            org,
            name="Acme Europe",
            time_zone="Europe/Paris",
            heartbeat_grace_seconds="120",
            retention_days="800",
            retention_customer="30",
            retention_authorization="730",
        ),
    )
    assert response.status_code == 302, response.content.decode()

    org.refresh_from_db()
    assert (org.name, org.time_zone, org.heartbeat_grace_seconds) == (
        "Acme Europe",
        "Europe/Paris",
        120,
    )
    assert org.audit_retention_days == 800
    assert dict(
        AuditRetention.all_tenants.filter(org_id=org.pk).values_list("event_type", "days")
    ) == {"customer": 30, "authorization": 730}

    rows = organisation_rows(org)[before:]
    admin_user = ("user", "Acme Admin")
    assert changes_of(rows) == [
        ("update", "name", "Acme", "Acme Europe", *admin_user),
        ("update", "time_zone", "UTC", "Europe/Paris", *admin_user),
        ("update", "heartbeat_grace_seconds", 90, 120, *admin_user),
        ("update", "retention_days", 365, 800, *admin_user),
        ("update", "retention_days", None, 730, *admin_user),
        ("update", "retention_days", None, 30, *admin_user),
    ]
    # The three settings are one change; each retention its own (the policy the purge reads).
    assert len({row["change_id"] for row in rows[:3]}) == 1
    assert [row["metadata"] for row in rows[3:]] == [
        {},
        {"event_type": "authorization"},
        {"event_type": "customer"},
    ]
    assert {
        (row["event_type"], row["subject_type"], row["subject_id"], row["actor_id"]) for row in rows
    } == {("settings", "organization", str(org.pk), str(admin.pk))}
    assert {(row["ip_address"], row["user_agent"]) for row in rows} == {
        ("203.0.113.9", "pytest-browser/1.0")
    }


def test_saving_what_is_already_there_records_nothing(org, admin_client):
    admin_client.post(URL, form_data(org, retention_customer="60"))
    org.refresh_from_db()
    before = organisation_rows(org)
    response = admin_client.post(URL, form_data(org, retention_customer="60"), follow=True)
    assert response.status_code == 200
    assert "Nothing to change." in response.content.decode()
    assert organisation_rows(org) == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "This field is required."),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Select a valid choice."),
        (
            {"heartbeat_grace_seconds": "5"},
            "heartbeat_grace_seconds",
            "greater than or equal to 30",
        ),
        ({"heartbeat_grace_seconds": "99999"}, "heartbeat_grace_seconds", "less than or equal to"),
        ({"heartbeat_grace_seconds": "soon"}, "heartbeat_grace_seconds", "Enter a whole number."),
        ({"retention_days": "0"}, "retention_days", "greater than or equal to 1"),
        ({"retention_customer": "3651"}, "retention_customer", "less than or equal to 3650"),
        ({"retention_billing": "-1"}, "retention_billing", "greater than or equal to 1"),
        ({"retention_settings": "1e9"}, "retention_settings", "Enter a whole number."),
        ({"retention_settings": "9" * 40}, "retention_settings", "less than or equal to 3650"),
        ({"retention_work_session": "500"}, "retention_work_session", "limit for every type"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(org, admin_client, changes, field, message):
    before = audit_rows(org)
    response = admin_client.post(URL, form_data(org, **changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field] and message in " ".join(errors[field]), errors
    assert audit_rows(org) == before
    fresh = Organization.objects.get(pk=org.pk)
    assert (fresh.name, fresh.time_zone, fresh.heartbeat_grace_seconds) == ("Acme", "UTC", 90)
    assert not AuditRetention.all_tenants.filter(org_id=org.pk).exists()


def test_a_chosen_retention_cannot_be_emptied_back_to_the_default(org, admin_client):
    admin_client.post(URL, form_data(org, retention_customer="45"))
    org.refresh_from_db()
    before = organisation_rows(org)
    response = admin_client.post(URL, form_data(org, retention_customer=""))
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "retention_customer": ["Enter a number of days: this type's retention is set (45 days)."]
    }
    assert organisation_rows(org) == before


def test_the_service_refuses_bounds_and_unknown_types_whoever_calls_it(org):
    with pytest.raises(ValidationError) as refused:
        organization_settings_update(
            org=org,
            heartbeat_grace_seconds=10,
            retention_days=0,
            retention_by_type={"customer": 4000, "robots": 5},
        )
    assert set(refused.value.message_dict) == {
        "heartbeat_grace_seconds",
        "retention_days",
        "retention_customer",
    }
    with pytest.raises(ValidationError):
        organization_settings_update(org=org, time_zone="Nowhere/Atlantis")
    assert organisation_rows(org, action="update") == []


def group_user(name: str, permissions: list[str]) -> User:
    group = role_group_create(name=name, permissions=permissions)
    return user_create(email=f"{name.lower()}@acme.test", password=PASSWORD, role_group=group)


def test_only_administrators_may_open_or_change_it(org, agent):
    almost = group_user("Almost", sorted(set(PERMISSIONS) - {"billing.manage"}))
    for user in (agent, almost):
        client = Client()
        client.force_login(user)
        assert client.get(URL).status_code == 403
        response = client.post(URL, form_data(org, name="Hijacked", retention_days="1"))
        assert response.status_code == 403
        assert "You don’t have access to this page" in response.content.decode()
        with context.use(actor=context.Actor.for_user(user)), pytest.raises(ChangeRefused):
            organization_settings_update(org=org, name="Hijacked")
    assert Organization.objects.get(pk=org.pk).name == "Acme"
    assert organisation_rows(org, action="update") == []
    assert Client().get(URL).status_code == 302  # signed out: to sign in


def test_an_administrator_group_of_another_name_may(org):
    boss = group_user("Owners", sorted(PERMISSIONS))
    client = Client()
    client.force_login(boss)
    assert client.post(URL, form_data(org, heartbeat_grace_seconds="60")).status_code == 302
    assert changes_of(organisation_rows(org, action="update")) == [
        ("update", "heartbeat_grace_seconds", 90, 60, "user", boss.name or boss.email)
    ]


def test_another_organisation_is_never_touched(org, other_org, admin_client):
    admin_client.post(URL, form_data(org, name="Acme Two", retention_days="200"))
    other = Organization.objects.get(pk=other_org.pk)
    assert (other.name, other.audit_retention_days) == ("Globex", 365)
    assert organisation_rows(other_org, action="update") == []


def test_kind_organisation_lists_its_rows_on_the_page_and_the_api(org, admin_client):
    admin_client.post(URL, form_data(org, time_zone="Europe/Berlin", retention_customer="40"))

    html = admin_client.get(AUDIT_LOG, {"event_type": "settings", "kind": "organisation"})
    html = html.content.decode()
    assert '<option value="organisation" selected' in html
    sections = re.findall(r'data-section="([^"]+)"', html)
    assert sections and set(sections) == {"Organisation"}  # not Plan or Seats, same subject

    body = admin_client.get("/api/v1/audit-events/", {"kind": "organisation"}).json()
    found = {(event["action"], event["property"], event["after"]) for event in body["results"]}
    assert {("update", "time_zone", "Europe/Berlin"), ("update", "retention_days", 40)} <= found
    assert {event["section"] for event in body["results"]} == {"Organisation"}
    assert {tuple(event["subject"].values()) for event in body["results"]} == {
        ("organization", str(org.pk), "Acme")
    }
    bad = admin_client.get("/api/v1/audit-events/", {"kind": "organization"})
    assert bad.status_code == 400


def test_the_retention_set_here_is_the_policy_the_log_records(org, admin_client):
    admin_client.post(URL, form_data(org, retention_conversation="14"))
    (row,) = organisation_rows(org, property="retention_days")
    # What auditlog.retention.org_policies reads back once this row is sealed.
    assert (row["after"], row["metadata"]) == (14, {"event_type": "conversation"})
