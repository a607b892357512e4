"""The condition language: validation messages name the problem, and matching follows the rules."""

import pytest
from django.core.exceptions import ValidationError

from settings_app.criteria import (
    canonical,
    describe_criteria,
    matches,
    validate_actions,
    validate_criteria,
)

CONVERSATION = {
    "status": "open",
    "priority": "normal",
    "queue": "Billing",
    "tags": ["refund", "VIP"],
    "subject": "Refund for order 1042",
    "customer_email": "Pat@Example.com",
    "customer_tags": ["enterprise"],
}


def crit(*conditions, match="all"):
    return validate_criteria({"match": match, "conditions": list(conditions)})


def cond(field, operator, value=None):
    return {"field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("status", "equals", "open"), True),
        (cond("status", "equals", "OPEN"), True),
        (cond("status", "not_equals", "open"), False),
        (cond("priority", "in", ["high", "normal"]), True),
        (cond("priority", "in", ["high", "urgent"]), False),
        (cond("queue", "equals", "billing"), True),
        (cond("queue", "starts_with", "Bil"), True),
        (cond("queue", "in", ["Sales", "Billing"]), True),
        (cond("queue", "is_empty"), False),
        (cond("queue", "is_not_empty"), True),
        (cond("subject", "contains", "refund"), True),
        (cond("subject", "not_contains", "refund"), False),
        (cond("subject", "starts_with", "Order"), False),
        (cond("tags", "contains", "vip"), True),
        (cond("tags", "contains", "vi"), False),  # element match, not substring
        (cond("tags", "not_contains", "spam"), True),
        (cond("tags", "in", ["spam", "refund"]), True),
        (cond("tags", "is_empty"), False),
        (cond("customer_email", "equals", "pat@example.com"), True),
        (cond("customer_email", "contains", "@example.com"), True),
        (cond("customer_tags", "contains", "enterprise"), True),
        (cond("customer_tags", "is_not_empty"), True),
    ],
)
def test_single_condition_against_a_conversation(condition, expected):
    assert matches(crit(condition), CONVERSATION) is expected


def test_all_needs_every_condition_and_any_needs_one():
    hit, miss = cond("queue", "equals", "Billing"), cond("priority", "equals", "urgent")
    assert matches(crit(hit, miss), CONVERSATION) is False
    assert matches(crit(hit, miss, match="any"), CONVERSATION) is True
    assert matches(crit(miss, match="any"), CONVERSATION) is False


def test_no_conditions_match_everything():
    assert matches(crit(), CONVERSATION) is True
    assert matches({"match": "any", "conditions": []}, {}) is True


def test_missing_values_count_as_empty():
    values = {"status": "open"}
    assert matches(crit(cond("tags", "is_empty"), cond("queue", "is_empty")), values) is True
    assert matches(crit(cond("customer_tags", "contains", "vip")), values) is False
    assert matches(crit(cond("subject", "not_contains", "x")), {"subject": None}) is True


def test_a_condition_that_cannot_be_evaluated_never_matches():
    stored = {"match": "all", "conditions": [cond("colour", "equals", "red")]}
    assert matches(stored, CONVERSATION) is False
    stored = {"match": "all", "conditions": [cond("tags", "starts_with", "r")]}
    assert matches(stored, CONVERSATION) is False


def test_validation_normalises():
    assert validate_criteria(
        '{"conditions": [{"field": "priority", "operator": "equals", "value": " High "}]}'
    ) == {"match": "all", "conditions": [cond("priority", "equals", "high")]}
    assert validate_criteria({"match": "any", "conditions": [cond("tags", "is_empty", "")]}) == {
        "match": "any",
        "conditions": [cond("tags", "is_empty", None)],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "Criteria is not valid JSON"),
        ([], "Criteria must be an object"),
        ({"match": "some", "conditions": []}, '\'match\' must be "all" or "any"'),
        ({"conditions": {}}, "'conditions' must be a list"),
        ({"conditions": [], "limit": 3}, "unknown key 'limit'"),
        ({"conditions": ["status"]}, "condition 1 must be an object"),
        ({"conditions": [cond("colour", "equals", "red")]}, "unknown field 'colour'"),
        ({"conditions": [cond("status", "resembles", "open")]}, "unknown operator 'resembles'"),
        (
            {"conditions": [cond("status", "contains", "op")]},
            "operator 'contains' cannot be used with field 'status'",
        ),
        ({"conditions": [cond("status", "equals", "closed")]}, "'closed' is not a valid status"),
        ({"conditions": [cond("priority", "in", [])]}, "must be a non-empty list"),
        ({"conditions": [cond("subject", "contains", "")]}, "must not be blank"),
        ({"conditions": [cond("subject", "contains", 5)]}, "must be text, not a number"),
        ({"conditions": [cond("tags", "is_empty", "x")]}, "takes no value"),
        ({"conditions": [{"operator": "equals", "value": "x"}]}, "missing 'field'"),
    ],
)
def test_invalid_criteria_are_refused_with_a_message_naming_the_problem(data, message):
    with pytest.raises(ValidationError) as error:
        validate_criteria(data)
    assert message in error.value.messages[0]


@pytest.mark.django_db
def test_actions_validate_and_normalise(org, agent):
    assert validate_actions(
        [
            {"type": "set_priority", "value": "URGENT"},
            {"type": "add_tag", "value": " VIP "},
            {"type": "set_queue", "value": "Billing"},
            {"type": "assign_to", "value": str(agent.pk)},
        ]
    ) == [
        {"type": "set_priority", "value": "urgent"},
        {"type": "add_tag", "value": "vip"},
        {"type": "set_queue", "value": "Billing"},
        {"type": "assign_to", "value": agent.pk},
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[", "Actions is not valid JSON"),
        ({}, "Actions must be a list"),
        ([], "at least one action"),
        ([{"type": "send_email", "value": "x"}], "unknown action 'send_email'"),
        ([{"type": "set_priority", "value": "asap"}], "'asap' is not a valid priority"),
        ([{"type": "add_tag", "value": ""}], "must not be blank"),
        ([{"type": "assign_to", "value": "me"}], "'me' is not a user id"),
        ([{"type": "assign_to", "value": 987654}], "no active user with id 987654"),
        ([{"kind": "add_tag"}], "unknown key 'kind'"),
    ],
)
@pytest.mark.django_db
def test_invalid_actions_are_refused(org, data, message):
    with pytest.raises(ValidationError) as error:
        validate_actions(data)
    assert message in error.value.messages[0]


@pytest.mark.django_db
def test_assign_to_a_user_of_another_organisation_is_refused(org, other_org):
    from accounts.models import User

    stranger = User.all_tenants.get(email="admin@globex.test")
    with pytest.raises(ValidationError, match="no active user"):
        validate_actions([{"type": "assign_to", "value": stranger.pk}])


def test_description_reads_like_a_sentence():
    criteria = crit(cond("priority", "equals", "high"), cond("tags", "in", ["vip", "gold"]))
    assert describe_criteria(criteria) == 'All of: Priority equals "high"; Tags is any of vip, gold'
    assert describe_criteria(crit()) == "Every conversation"


def test_deeply_nested_json_is_a_validation_error_not_a_crash():
    with pytest.raises(ValidationError, match="nested too deeply"):
        validate_criteria("[" * 100_000 + "]" * 100_000)


def test_canonical_puts_keys_back_in_reading_order():
    stored = {
        "conditions": [{"value": "vip", "field": "tags", "operator": "contains"}],
        "match": "any",
    }
    assert list(canonical(stored)) == ["match", "conditions"]
    assert list(canonical(stored)["conditions"][0]) == ["field", "operator", "value"]
    assert list(canonical([{"value": "high", "type": "set_priority"}])[0]) == ["type", "value"]
