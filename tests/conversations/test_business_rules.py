"""Business rules run for real: matching rules change the conversation, performed by the rule."""

import json

from conversations import services
from conversations.models import Conversation
from settings_app.services import business_rule_create, business_rule_update
from tests.conftest import audit_rows, compact
from tests.conversations.conftest import token_client

FIELDS = ("action", "property", "before", "after", "actor_type", "actor_id", "actor_name")


def vip_rule(**overrides):
    return business_rule_create(
        **{
            "name": "VIP escalation",
            "criteria": {
                "match": "all",
                "conditions": [{"field": "customer_tags", "operator": "contains", "value": "vip"}],
            },
            "actions": [
                {"type": "set_priority", "value": "urgent"},
                {"type": "add_tag", "value": "Escalated"},
                {"type": "set_queue", "value": "VIP"},
            ],
        }
        | overrides
    )


def create_on_page(client, customer, **fields):
    data = {
        "customer": customer.pk,
        "subject": "Refund please",
        "status": "open",
        "priority": "normal",
        "tags": "",
        "queue": "",
        "assigned_to": "",
    } | fields
    response = client.post("/conversations/new/", data)
    assert response.status_code == 302, response.content
    return Conversation.objects.latest("pk")


def test_a_matching_rule_changes_a_new_conversation_as_the_rule(org, agent, agent_client, customer):
    rule = vip_rule()
    conversation = create_on_page(agent_client, customer)

    assert (conversation.priority, conversation.tags, conversation.queue) == (
        "urgent",
        ["escalated"],
        "VIP",
    )
    me = ("user", str(agent.pk), "Ann Agent")
    by_rule = ("business_rule", str(rule.pk), "VIP escalation")
    rows = audit_rows(org, section="Conversation")
    assert compact(rows, *FIELDS) == [
        ("create", "subject", None, "Refund please", *me),
        ("create", "customer", None, "Grace Hopper", *me),
        ("create", "status", None, "open", *me),
        ("create", "priority", None, "normal", *me),
        ("update", "priority", "normal", "urgent", *by_rule),
        ("update", "tags", [], ["escalated"], *by_rule),
        ("update", "queue", "", "VIP", *by_rule),
    ]
    # The person's save and the rule's save are two changes, in the one request's transaction.
    assert len({row["change_id"] for row in rows}) == 2
    assert len({row["request_id"] for row in rows}) == 1


def test_a_rule_that_does_not_match_does_nothing(org, agent_client):
    vip_rule()
    plain = services.customer_create(name="Joe Bloggs", tags=["trial"])
    conversation = create_on_page(agent_client, plain)
    assert (conversation.priority, conversation.tags, conversation.queue) == ("normal", [], "")
    assert audit_rows(org, section="Conversation", actor_type="business_rule") == []


def test_a_disabled_rule_does_not_run(org, agent_client, customer):
    vip_rule(enabled=False)
    conversation = create_on_page(agent_client, customer)
    assert conversation.priority == "normal"
    assert audit_rows(org, actor_type="business_rule") == []


def test_rules_run_on_update_through_the_api(org, customer):
    plain = services.customer_create(name="Joe Bloggs")
    conversation = services.conversation_create(customer=plain, subject="Broken widget")
    rule = business_rule_create(
        name="Outage tag",
        criteria={
            "match": "any",
            "conditions": [{"field": "tags", "operator": "contains", "value": "outage"}],
        },
        actions=[{"type": "set_priority", "value": "high"}],
    )
    response = token_client(org, "Status page").patch(
        f"/api/v1/conversations/{conversation.pk}/",
        json.dumps({"tags": ["Outage"]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    # The response shows the conversation as the rule left it.
    assert response.json()["priority"] == "high"
    rows = audit_rows(org, section="Conversation", action="update")
    assert compact(rows, "property", "before", "after", "actor_type", "actor_name") == [
        ("tags", [], ["outage"], "api", "Status page"),
        ("priority", "normal", "high", "business_rule", "Outage tag"),
    ]
    assert rows[1]["actor_id"] == str(rule.pk)


def test_rules_apply_in_position_order_each_once(org, agent_client, customer):
    # Rule 2 only matches after rule 1 has run: it sees the conversation as rule 1 left it.
    second = business_rule_create(
        name="Urgent goes to tier 2",
        position=2,
        criteria={
            "match": "all",
            "conditions": [{"field": "priority", "operator": "equals", "value": "urgent"}],
        },
        actions=[{"type": "set_queue", "value": "Tier 2"}, {"type": "add_tag", "value": "tier2"}],
    )
    first = business_rule_create(
        name="Refunds are urgent",
        position=1,
        criteria={
            "match": "all",
            "conditions": [{"field": "subject", "operator": "contains", "value": "refund"}],
        },
        actions=[{"type": "set_priority", "value": "urgent"}],
    )
    conversation = create_on_page(agent_client, customer)
    assert (conversation.priority, conversation.queue, conversation.tags) == (
        "urgent",
        "Tier 2",
        ["tier2"],
    )
    rule_rows = audit_rows(org, actor_type="business_rule")
    assert compact(rule_rows, "property", "after", "actor_id") == [
        ("priority", "urgent", str(first.pk)),
        ("tags", ["tier2"], str(second.pk)),
        ("queue", "Tier 2", str(second.pk)),
    ]


def test_rule_changes_do_not_retrigger_the_rules(org, agent_client, customer):
    # Matches everything and always has something to add: a re-triggering engine would loop.
    counter = business_rule_create(
        name="Tag everything",
        criteria={"match": "all", "conditions": []},
        actions=[{"type": "add_tag", "value": "seen"}],
    )
    conversation = create_on_page(agent_client, customer)
    assert conversation.tags == ["seen"]
    assert len(audit_rows(org, actor_type="business_rule", actor_id=str(counter.pk))) == 1


def test_an_assign_to_rule_assigns_and_records_the_agents_load(org, agent, agent_client, customer):
    rule = business_rule_create(
        name="VIPs to Ann",
        criteria={
            "match": "all",
            "conditions": [{"field": "customer_tags", "operator": "contains", "value": "vip"}],
        },
        actions=[{"type": "assign_to", "value": agent.pk}],
    )
    conversation = create_on_page(agent_client, customer)
    assert conversation.assigned_to_id == agent.pk
    by_rule = ("business_rule", str(rule.pk), "VIPs to Ann")
    (update,) = audit_rows(org, section="Conversation", action="update")
    assert compact([update], *FIELDS) == [("update", "assigned_to", None, "Ann Agent", *by_rule)]
    (assign,) = audit_rows(org, section="Work Session", action="assign")
    assert compact([assign], *FIELDS) == [
        (
            "assign",
            "conversation",
            None,
            {"id": conversation.pk, "subject": "Refund please"},
            *by_rule,
        )
    ]
    assert assign["metadata"] == {
        "load_before": 0,
        "load_after": 1,
        "capacity": 3,
        "over_capacity": False,
    }


def test_editing_a_rule_takes_effect_on_the_next_conversation(org, agent_client, customer):
    rule = vip_rule()
    business_rule_update(rule=rule, enabled=False)
    assert create_on_page(agent_client, customer).priority == "normal"
    business_rule_update(rule=rule, enabled=True)
    assert create_on_page(agent_client, customer, subject="Again").priority == "urgent"
