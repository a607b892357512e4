"""The queue router: fair assignment to Available agents under capacity, performed by `queue_router`."""

from conversations import services as conversations
from conversations.models import Conversation
from tests.conftest import audit_rows, compact
from tests.worksession.conftest import make_agent
from worksession.tasks import route_all_organizations, route_queued_conversations

ROUTER = ("queue_router", None, "Queue router")


def queue(customer, count, **fields):
    return [
        conversations.conversation_create(customer=customer, subject=f"Question {n}", **fields)
        for n in range(count)
    ]


def test_router_fills_three_agents_to_capacity_least_loaded_first(
    org, customer, three_available_agents
):
    alice, bob, cara = three_available_agents
    waiting = queue(customer, 10)

    assert route_queued_conversations.apply(args=[org.pk]).get() == 6

    loads = {
        agent.pk: Conversation.objects.filter(assigned_to=agent, status="open").count()
        for agent in three_available_agents
    }
    assert loads == {alice.pk: 2, bob.pk: 2, cara.pk: 2}
    # Oldest first: the first six waiting conversations were taken, the last four still wait.
    assigned = set(
        Conversation.objects.filter(assigned_to__isnull=False).values_list("pk", flat=True)
    )
    assert assigned == {c.pk for c in waiting[:6]}

    rows = audit_rows(org, section="Work Session", action="assign")
    assert len(rows) == 6
    assert {(r["actor_type"], r["actor_id"], r["actor_name"]) for r in rows} == {ROUTER}
    # Least loaded first: everyone gets one before anyone gets a second.
    assert compact(rows, "subject_name", "metadata") == [
        (
            name,
            {
                "load_before": before,
                "load_after": before + 1,
                "capacity": 2,
                "over_capacity": False,
            },
        )
        for before in (0, 1)
        for name in ("Alice Agent", "Bob Agent", "Cara Agent")
    ]
    assert [r["after"] for r in rows] == [{"id": c.pk, "subject": c.subject} for c in waiting[:6]]
    updates = audit_rows(org, section="Conversation", action="update")
    assert (
        compact(updates, "property", "before", "actor_type", "actor_name")
        == [("assigned_to", None, "queue_router", "Queue router")] * 6
    )


def test_a_second_run_with_everyone_at_capacity_assigns_nothing(
    org, customer, three_available_agents
):
    queue(customer, 10)
    route_queued_conversations.apply(args=[org.pk])
    assert route_queued_conversations.apply(args=[org.pk]).get() == 0
    assert len(audit_rows(org, section="Work Session", action="assign")) == 6


def test_urgent_conversations_are_routed_first(org, customer):
    make_agent("solo@acme.test", "Solo Agent", capacity=1, available=True)
    queue(customer, 2)
    urgent = conversations.conversation_create(
        customer=customer, subject="Down!", priority="urgent"
    )
    route_queued_conversations.apply(args=[org.pk])
    assert Conversation.objects.get(assigned_to__isnull=False).pk == urgent.pk


def test_unavailable_and_signed_out_agents_get_nothing(org, customer):
    make_agent("away@acme.test", "Away Agent", capacity=5)
    queue(customer, 3)
    assert route_queued_conversations.apply(args=[org.pk]).get() == 0
    assert audit_rows(org, section="Work Session", action="assign") == []


def test_existing_load_counts_against_capacity(org, customer, three_available_agents):
    alice, bob, cara = three_available_agents
    conversations.conversation_create(customer=customer, subject="Alice's", assigned_to=alice)
    conversations.conversation_create(customer=customer, subject="Alice's 2", assigned_to=alice)
    conversations.conversation_create(customer=customer, subject="Bob's", assigned_to=bob)
    queue(customer, 5)
    assert route_queued_conversations.apply(args=[org.pk]).get() == 3
    rows = audit_rows(org, section="Work Session", action="assign", actor_type="queue_router")
    assert compact(rows, "subject_name", "metadata") == [
        ("Cara Agent", {"load_before": 0, "load_after": 1, "capacity": 2, "over_capacity": False}),
        ("Bob Agent", {"load_before": 1, "load_after": 2, "capacity": 2, "over_capacity": False}),
        ("Cara Agent", {"load_before": 1, "load_after": 2, "capacity": 2, "over_capacity": False}),
    ]


def test_closing_a_conversation_makes_room_for_the_next(org, customer):
    agent = make_agent("solo@acme.test", "Solo Agent", capacity=1, available=True)
    first, second = queue(customer, 2)
    route_queued_conversations.apply(args=[org.pk])
    conversations.conversation_update(
        conversation=Conversation.objects.get(pk=first.pk), status="done"
    )
    route_queued_conversations.apply(args=[org.pk])
    assert Conversation.objects.get(pk=second.pk).assigned_to_id == agent.pk


def test_beat_fans_out_only_to_organisations_with_work(
    org, customer, other_org, three_available_agents
):
    queue(customer, 1)
    # The fan-out task sends one routing task per organisation with an Available agent and a
    # waiting conversation; here only Acme qualifies.
    assert route_all_organizations.apply().get() == 1
