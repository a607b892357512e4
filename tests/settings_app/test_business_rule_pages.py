"""Settings > Business Rules: each create, update and delete by an Administrator, and its exact rows."""

import json

import pytest

from accounts.models import User
from settings_app import services
from settings_app.models import BusinessRule
from tests.settings_app.helpers import PAGE_SECTIONS, one_change, rows, settings_rows

URL = "/settings/business-rules/"

VIP_CRITERIA = {
    "match": "all",
    "conditions": [
        {"field": "customer_tags", "operator": "contains", "value": "vip"},
        {"field": "status", "operator": "equals", "value": "open"},
    ],
}
VIP_ACTIONS = [{"type": "set_priority", "value": "high"}, {"type": "add_tag", "value": "vip"}]


def post_data(**overrides):
    data = {
        "name": "VIP customers first",
        "enabled": "on",
        "position": "",
        "criteria": json.dumps(VIP_CRITERIA),
        "actions": json.dumps(VIP_ACTIONS),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def rule(org):
    return services.business_rule_create(
        name="VIP customers first", criteria=VIP_CRITERIA, actions=VIP_ACTIONS
    )


def test_administrator_creates_a_rule(org, admin, admin_client):
    response = admin_client.post(f"{URL}new/", post_data())
    assert response.status_code == 302, response.content.decode()
    rule = BusinessRule.objects.get()
    who = (
        "user",
        str(admin.pk),
        "Acme Admin",
        "business_rule",
        str(rule.pk),
        "VIP customers first",
    )
    new_rows = settings_rows(org)
    assert rows(org, event_type="settings", section__in=PAGE_SECTIONS) == [
        ("settings", "create", "Business Rule", "name", None, "VIP customers first", *who),
        ("settings", "create", "Business Rule", "enabled", None, True, *who),
        ("settings", "create", "Business Rule", "criteria", None, VIP_CRITERIA, *who),
        ("settings", "create", "Business Rule", "actions", None, VIP_ACTIONS, *who),
        ("settings", "create", "Business Rule", "position", None, 0, *who),
    ]
    assert one_change(new_rows)


def test_new_rules_run_after_existing_ones(org, admin_client, rule):
    admin_client.post(f"{URL}new/", post_data(name="Second"))
    assert list(BusinessRule.objects.values_list("name", "position")) == [
        ("VIP customers first", 0),
        ("Second", 1),
    ]


def test_administrator_changes_criteria_and_actions(org, admin, admin_client, rule):
    new_criteria = {
        "match": "any",
        "conditions": [
            {"field": "customer_tags", "operator": "contains", "value": "vip"},
            {"field": "subject", "operator": "contains", "value": "urgent"},
        ],
    }
    new_actions = [
        {"type": "set_priority", "value": "urgent"},
        {"type": "set_queue", "value": "VIP"},
    ]
    response = admin_client.post(
        f"{URL}{rule.pk}/",
        post_data(position="0", criteria=json.dumps(new_criteria), actions=json.dumps(new_actions)),
    )
    assert response.status_code == 302, response.content.decode()
    who = (
        "user",
        str(admin.pk),
        "Acme Admin",
        "business_rule",
        str(rule.pk),
        "VIP customers first",
    )
    assert rows(org, action="update") == [
        ("settings", "update", "Business Rule", "criteria", VIP_CRITERIA, new_criteria, *who),
        ("settings", "update", "Business Rule", "actions", VIP_ACTIONS, new_actions, *who),
    ]
    assert one_change(settings_rows(org)[-2:])


def test_administrator_renames_disables_and_moves_a_rule(org, admin, admin_client, rule):
    response = admin_client.post(
        f"{URL}{rule.pk}/", post_data(name="VIPs", enabled=None, position="5")
    )
    assert response.status_code == 302
    who = ("user", str(admin.pk), "Acme Admin", "business_rule", str(rule.pk), "VIPs")
    assert rows(org, action="update") == [
        ("settings", "update", "Business Rule", "name", "VIP customers first", "VIPs", *who),
        ("settings", "update", "Business Rule", "enabled", True, False, *who),
        ("settings", "update", "Business Rule", "position", 0, 5, *who),
    ]


def test_saving_an_unchanged_rule_records_nothing(org, admin_client, rule):
    before = len(settings_rows(org))
    response = admin_client.post(f"{URL}{rule.pk}/", post_data(position="0"))
    assert response.status_code == 302
    assert len(settings_rows(org)) == before


def test_an_emptied_position_keeps_the_rule_in_place(org, admin_client, rule):
    services.business_rule_update(rule=rule, position=3)
    admin_client.post(f"{URL}{rule.pk}/", post_data(position=""))
    rule.refresh_from_db()
    assert rule.position == 3


def test_toggle_disables_and_enables(org, admin, admin_client, rule):
    assert admin_client.post(f"{URL}{rule.pk}/toggle/").status_code == 302
    assert admin_client.post(f"{URL}{rule.pk}/toggle/").status_code == 302
    assert [row[3:6] for row in rows(org, action="update")] == [
        ("enabled", True, False),
        ("enabled", False, True),
    ]


def test_administrator_deletes_a_rule(org, admin, admin_client, rule):
    confirm = admin_client.get(f"{URL}{rule.pk}/delete/")
    assert confirm.status_code == 200 and "VIP customers first" in confirm.content.decode()
    assert BusinessRule.objects.exists()  # a GET only asks
    response = admin_client.post(f"{URL}{rule.pk}/delete/")
    assert response.status_code == 302
    assert not BusinessRule.objects.exists()
    who = (
        "user",
        str(admin.pk),
        "Acme Admin",
        "business_rule",
        str(rule.pk),
        "VIP customers first",
    )
    assert rows(org, action="delete") == [
        ("settings", "delete", "Business Rule", "name", "VIP customers first", None, *who),
        ("settings", "delete", "Business Rule", "enabled", True, None, *who),
        ("settings", "delete", "Business Rule", "criteria", VIP_CRITERIA, None, *who),
        ("settings", "delete", "Business Rule", "actions", VIP_ACTIONS, None, *who),
        ("settings", "delete", "Business Rule", "position", 0, None, *who),
    ]


def test_assign_to_action_names_a_user_of_the_organisation(org, admin, admin_client, agent):
    actions = [{"type": "assign_to", "value": agent.pk}]
    response = admin_client.post(f"{URL}new/", post_data(actions=json.dumps(actions)))
    assert response.status_code == 302
    assert BusinessRule.objects.get().actions == actions
    listing = admin_client.get(URL).content.decode()
    assert "Assign to: Ann Agent" in listing


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("criteria", '{"match": "all", "conditions": [', "Criteria is not valid JSON"),
        (
            "criteria",
            json.dumps({"conditions": [{"field": "colour", "operator": "equals", "value": "red"}]}),
            "unknown field &#x27;colour&#x27;",
        ),
        (
            "criteria",
            json.dumps(
                {"conditions": [{"field": "status", "operator": "resembles", "value": "open"}]}
            ),
            "unknown operator &#x27;resembles&#x27;",
        ),
        ("criteria", "", "This field is required."),
        ("actions", "[{oops}]", "Actions is not valid JSON"),
        ("actions", json.dumps([{"type": "delete_everything"}]), "unknown action"),
        (
            "actions",
            json.dumps([{"type": "set_priority", "value": "asap"}]),
            "not a valid priority",
        ),
        ("actions", json.dumps([]), "at least one action"),
        ("position", "-1", "greater than or equal to 0"),
        ("name", "", "This field is required."),
    ],
)
def test_invalid_input_is_refused_with_a_clear_error_and_changes_nothing(
    org, admin_client, rule, field, value, message
):
    before = settings_rows(org)
    for url in (f"{URL}new/", f"{URL}{rule.pk}/"):
        response = admin_client.post(url, post_data(**{field: value}))
        assert response.status_code == 400
        assert message in response.content.decode()
    assert settings_rows(org) == before
    assert list(BusinessRule.objects.values_list("name", flat=True)) == ["VIP customers first"]
    rule.refresh_from_db()
    assert rule.criteria == VIP_CRITERIA and rule.actions == VIP_ACTIONS


def test_duplicate_name_is_refused(org, admin_client, rule):
    before = settings_rows(org)
    response = admin_client.post(f"{URL}new/", post_data(name="vip customers FIRST"))
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert settings_rows(org) == before


def test_assigning_to_another_organisations_user_is_refused(org, other_org, admin_client, rule):
    stranger = User.all_tenants.get(email="admin@globex.test")
    before = settings_rows(org)
    actions = json.dumps([{"type": "assign_to", "value": stranger.pk}])
    response = admin_client.post(f"{URL}new/", post_data(name="Other", actions=actions))
    assert response.status_code == 400
    assert f"no active user with id {stranger.pk}" in response.content.decode()
    assert settings_rows(org) == before


def test_pages_render_with_the_json_and_the_reference(org, admin_client, rule):
    listing = admin_client.get(URL).content.decode()
    assert "VIP customers first" in listing
    assert (
        "All of: Customer tags contains &quot;vip&quot;; Status equals &quot;open&quot;" in listing
    )
    edit = admin_client.get(f"{URL}{rule.pk}/")
    assert edit.status_code == 200
    page = edit.content.decode()
    assert "&quot;customer_tags&quot;" in page  # the stored criteria, pretty-printed
    assert 'id="criteria-language"' in page and "criteria-editor.js" in page
    assert admin_client.get(f"{URL}new/").status_code == 200
