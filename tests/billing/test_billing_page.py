"""Settings > Billing: plan and seat changes by an Administrator, their exact rows, and validation."""

import pytest

from accounts.models import RoleGroup
from accounts.services import role_group_create, user_create, user_update
from billing import selectors
from billing.models import SeatAllocation, Subscription
from tests.conftest import audit_rows, compact, make_org

URL = "/settings/billing/"
ROW = (
    "event_type",
    "action",
    "section",
    "property",
    "before",
    "after",
    "actor_type",
    "actor_id",
    "actor_name",
    "subject_type",
    "subject_id",
    "subject_name",
)


def form(**changes):
    data = {
        "plan": "starter",
        "full_time_seats": "5",
        "seasonal_seats": "0",
        "collaborator_seats": "0",
    }
    data.update(changes)
    return data


def changes(org, **filters):
    return compact(audit_rows(org, event_type="billing", action="update", **filters), *ROW)


def add_agents(count):
    agent_group = RoleGroup.objects.get(name="Agent")
    return [
        user_create(email=f"agent{n}@acme.test", password=None, role_group=agent_group)
        for n in range(count)
    ]


def test_a_new_organisation_starts_on_starter_with_five_seats(org):
    assert Subscription.objects.get().plan == "starter"
    assert SeatAllocation.objects.get().full_time_seats == 5
    system = ("system", None, "System", "organization", str(org.pk), "Acme")
    assert compact(audit_rows(org, event_type="billing"), *ROW) == [
        ("billing", "create", "Plan", "plan", None, "Starter", *system),
        ("billing", "create", "Seats", "full_time_seats", None, 5, *system),
        ("billing", "create", "Seats", "seasonal_seats", None, 0, *system),
        ("billing", "create", "Seats", "collaborator_seats", None, 0, *system),
    ]


def test_administrator_upgrades_the_plan(org, admin, admin_client):
    response = admin_client.post(URL, form(plan="business"))
    assert response.status_code == 302
    who = ("user", str(admin.pk), "Acme Admin", "organization", str(org.pk), "Acme")
    assert changes(org) == [("billing", "update", "Plan", "plan", "Starter", "Business", *who)]
    (row,) = audit_rows(org, event_type="billing", action="update")
    assert (row["ip_address"], row["user_agent"]) == ("203.0.113.9", "pytest-browser/1.0")


def test_administrator_downgrades_the_plan(org, admin, admin_client):
    admin_client.post(URL, form(plan="enterprise"))
    admin_client.post(URL, form(plan="team"))
    assert [row[4:6] for row in changes(org)] == [
        ("Starter", "Enterprise"),
        ("Enterprise", "Team"),
    ]


def test_administrator_adds_and_removes_seats(org, admin, admin_client):
    response = admin_client.post(
        URL, form(full_time_seats="12", seasonal_seats="4", collaborator_seats="0")
    )
    assert response.status_code == 302
    admin_client.post(URL, form(full_time_seats="10", seasonal_seats="4", collaborator_seats="2"))
    who = ("user", str(admin.pk), "Acme Admin", "organization", str(org.pk), "Acme")
    assert changes(org) == [
        ("billing", "update", "Seats", "full_time_seats", 5, 12, *who),
        ("billing", "update", "Seats", "seasonal_seats", 0, 4, *who),
        ("billing", "update", "Seats", "full_time_seats", 12, 10, *who),
        ("billing", "update", "Seats", "collaborator_seats", 0, 2, *who),
    ]
    rows = audit_rows(org, event_type="billing", action="update")
    assert rows[0]["change_id"] == rows[1]["change_id"] != rows[2]["change_id"]


def test_one_save_changing_plan_and_seats_gives_rows_in_both_sections(org, admin, admin_client):
    response = admin_client.post(URL, form(plan="team", full_time_seats="20"))
    assert response.status_code == 302
    who = ("user", str(admin.pk), "Acme Admin", "organization", str(org.pk), "Acme")
    assert changes(org) == [
        ("billing", "update", "Plan", "plan", "Starter", "Team", *who),
        ("billing", "update", "Seats", "full_time_seats", 5, 20, *who),
    ]
    plan_row, seats_row = audit_rows(org, event_type="billing", action="update")
    assert plan_row["change_id"] != seats_row["change_id"]  # two sections, two changes


def test_saving_without_changes_records_nothing(org, admin_client):
    response = admin_client.post(URL, form())
    assert response.status_code == 302
    assert changes(org) == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (form(full_time_seats="-1"), "full_time_seats", "Seats cannot be negative."),
        (form(seasonal_seats="-3"), "seasonal_seats", "Seats cannot be negative."),
        (form(collaborator_seats="-1"), "collaborator_seats", "Seats cannot be negative."),
        (form(full_time_seats="lots"), "full_time_seats", "Enter a whole number."),
        (form(full_time_seats=""), "full_time_seats", "This field is required."),
        (form(full_time_seats="1000001"), "full_time_seats", "less than or equal to 10000"),
        (form(plan="platinum"), "plan", "Select a valid choice."),
    ],
)
def test_invalid_billing_input_is_refused_and_changes_nothing(
    org, admin_client, data, field, message
):
    # A valid plan change rides along where the broken field is a seat count: it must not apply.
    if field != "plan":
        data["plan"] = "enterprise"
    before = audit_rows(org, event_type="billing")
    response = admin_client.post(URL, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert audit_rows(org, event_type="billing") == before
    assert Subscription.objects.get().plan == "starter"
    assert SeatAllocation.objects.get().full_time_seats == 5


def test_full_time_seats_cannot_go_below_active_administrators_and_agents(org, admin_client):
    agents = add_agents(3)  # with the admin: 4 full-time users
    user_update(user=agents[0], is_active=False)  # inactive users need no seat
    before = audit_rows(org, event_type="billing")
    response = admin_client.post(URL, form(full_time_seats="2"))
    assert response.status_code == 400
    assert (
        "3 active full-time users need a seat: keep at least 3 full-time seats"
        in response.content.decode()
    )
    assert audit_rows(org, event_type="billing") == before
    assert admin_client.post(URL, form(full_time_seats="3")).status_code == 302
    assert [row[3:6] for row in changes(org)] == [("full_time_seats", 5, 3)]


def test_seasonal_and_collaborator_users_need_their_own_seats(org, admin_client):
    seasonal = role_group_create(name="Seasonal", permissions=["conversations.work"])
    collaborator = role_group_create(name="Collaborator", permissions=[])
    user_create(email="summer@acme.test", password=None, role_group=seasonal)
    user_create(email="summer2@acme.test", password=None, role_group=seasonal)
    user_create(email="legal@acme.test", password=None, role_group=collaborator)
    assert selectors.seats_in_use() == {"full_time": 1, "seasonal": 2, "collaborator": 1}

    response = admin_client.post(URL, form(seasonal_seats="1", collaborator_seats="0"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "2 active seasonal users need a seat: keep at least 2 seasonal seats" in page
    assert "1 active collaborator user needs a seat: keep at least 1 collaborator seat," in page
    assert changes(org) == []
    assert (
        admin_client.post(URL, form(seasonal_seats="2", collaborator_seats="1")).status_code == 302
    )


def test_page_shows_plan_and_seats_in_use(org, admin_client):
    add_agents(6)  # 7 full-time users on 5 seats: shown, not hidden
    page = admin_client.get(URL).content.decode()
    assert "Starter" in page and 'value="starter"' in page and "checked" in page
    assert "2 more than purchased" in page


def test_changes_stay_within_the_organisation(org, admin_client):
    other = make_org("Globex", "admin@globex.test")
    admin_client.post(URL, form(plan="team"))
    assert audit_rows(other, event_type="billing", action="update") == []
    assert Subscription.all_tenants.get(org=other).plan == "starter"
    assert Subscription.all_tenants.get(org=org).plan == "team"
