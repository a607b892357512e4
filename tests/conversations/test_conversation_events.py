"""Every Conversation event of SPEC section 2, caused on the pages, and its exact audit rows."""

from datetime import UTC, datetime

from conversations import services
from conversations.models import Conversation
from tests.conftest import audit_rows, compact
from worksession import services as worksession

FIELDS = ("action", "property", "before", "after", "actor_type", "actor_id", "actor_name")


def form(customer, **overrides):
    data = {
        "customer": customer.pk,
        "subject": "Refund for order 1042",
        "status": "open",
        "priority": "normal",
        "tags": "",
        "queue": "",
        "assigned_to": "",
        "snoozed_until": "",
    }
    return data | overrides


def test_agent_creates_a_conversation_on_the_page(org, agent, agent_client, customer):
    response = agent_client.post(
        "/conversations/new/", form(customer, tags="Billing", queue="Tier 1")
    )
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    me = ("user", str(agent.pk), "Ann Agent")
    rows = audit_rows(org, section="Conversation")
    assert compact(rows, *FIELDS) == [
        ("create", "subject", None, "Refund for order 1042", *me),
        ("create", "customer", None, "Grace Hopper", *me),
        ("create", "status", None, "open", *me),
        ("create", "priority", None, "normal", *me),
        ("create", "tags", None, ["billing"], *me),
        ("create", "queue", None, "Tier 1", *me),
    ]
    assert {
        (r["event_type"], r["subject_type"], r["subject_id"], r["subject_name"]) for r in rows
    } == {("conversation", "conversation", str(conversation.pk), "Refund for order 1042")}
    assert len({row["change_id"] for row in rows}) == 1


def test_agent_updates_status_priority_tags_and_queue(org, agent, agent_client, customer):
    conversation = services.conversation_create(customer=customer, subject="Login loop")
    response = agent_client.post(
        f"/conversations/{conversation.pk}/",
        form(
            customer,
            subject="Login loop",
            status="done",
            priority="high",
            tags="sso",
            queue="Tier 2",
        ),
    )
    assert response.status_code == 302
    me = ("user", str(agent.pk), "Ann Agent")
    rows = audit_rows(org, section="Conversation", action="update")
    assert compact(rows, *FIELDS) == [
        ("update", "status", "open", "done", *me),
        ("update", "priority", "normal", "high", *me),
        ("update", "tags", [], ["sso"], *me),
        ("update", "queue", "", "Tier 2", *me),
    ]
    assert len({row["change_id"] for row in rows}) == 1


def test_assigning_on_the_page_records_the_assignee_name_and_the_agents_load(
    org, agent, admin, admin_client, customer
):
    conversation = services.conversation_create(customer=customer, subject="Login loop")
    response = admin_client.post(
        f"/conversations/{conversation.pk}/",
        form(customer, subject="Login loop", assigned_to=agent.pk),
    )
    assert response.status_code == 302
    by_admin = ("user", str(admin.pk), "Acme Admin")
    assert compact(audit_rows(org, section="Conversation", action="update"), *FIELDS) == [
        ("update", "assigned_to", None, "Ann Agent", *by_admin),
    ]
    (assign,) = audit_rows(org, section="Work Session", action="assign")
    assert compact([assign], *FIELDS, "subject_type", "subject_id", "subject_name") == [
        (
            "assign",
            "conversation",
            None,
            {"id": conversation.pk, "subject": "Login loop"},
            *by_admin,
            "user",
            str(agent.pk),
            "Ann Agent",
        )
    ]
    assert assign["metadata"] == {
        "load_before": 0,
        "load_after": 1,
        "capacity": 3,
        "over_capacity": False,
    }


def test_reassigning_records_unassign_then_assign(org, agent, make_agent, admin_client, customer):
    bob = make_agent("bob@acme.test", "Bob Agent")
    conversation = services.conversation_create(
        customer=customer, subject="Login loop", assigned_to=agent
    )
    response = admin_client.post(
        f"/conversations/{conversation.pk}/",
        form(customer, subject="Login loop", assigned_to=bob.pk),
    )
    assert response.status_code == 302
    assert compact(
        audit_rows(org, section="Conversation", action="update"), "property", "before", "after"
    ) == [("assigned_to", "Ann Agent", "Bob Agent")]
    rows = audit_rows(org, section="Work Session", action__in=["assign", "unassign"])
    ref = {"id": conversation.pk, "subject": "Login loop"}
    assert compact(rows, "action", "subject_name", "before", "after", "metadata") == [
        (
            "assign",
            "Ann Agent",
            None,
            ref,
            {"load_before": 0, "load_after": 1, "capacity": 3, "over_capacity": False},
        ),
        (
            "unassign",
            "Ann Agent",
            ref,
            None,
            {"load_before": 1, "load_after": 0, "capacity": 3, "over_capacity": False},
        ),
        (
            "assign",
            "Bob Agent",
            None,
            ref,
            {"load_before": 0, "load_after": 1, "capacity": 3, "over_capacity": False},
        ),
    ]


def test_agent_deletes_a_conversation_on_the_page(org, agent, agent_client, customer):
    conversation = services.conversation_create(
        customer=customer, subject="Spam", priority="low", assigned_to=agent
    )
    response = agent_client.post(f"/conversations/{conversation.pk}/delete/")
    assert response.status_code == 302
    assert not Conversation.objects.exists()
    me = ("user", str(agent.pk), "Ann Agent")
    rows = audit_rows(org, action__in=["delete", "unassign"])
    assert compact(rows, "section", *FIELDS) == [
        (
            "Work Session",
            "unassign",
            "conversation",
            {"id": conversation.pk, "subject": "Spam"},
            None,
            *me,
        ),
        ("Conversation", "delete", "subject", "Spam", None, *me),
        ("Conversation", "delete", "customer", "Grace Hopper", None, *me),
        ("Conversation", "delete", "status", "open", None, *me),
        ("Conversation", "delete", "priority", "low", None, *me),
        ("Conversation", "delete", "assigned_to", "Ann Agent", None, *me),
    ]
    assert rows[0]["metadata"] == {
        "load_before": 1,
        "load_after": 0,
        "capacity": 3,
        "over_capacity": False,
    }


def test_agent_cannot_assign_beyond_capacity_but_an_administrator_can(
    org, agent, admin, agent_client, admin_client, customer
):
    worksession.agent_capacity_set(user=agent, capacity=1)
    services.conversation_create(customer=customer, subject="First", assigned_to=agent)
    second = services.conversation_create(customer=customer, subject="Second")
    before = audit_rows(org)

    refused = agent_client.post(
        f"/conversations/{second.pk}/", form(customer, subject="Second", assigned_to=agent.pk)
    )
    assert refused.status_code == 400
    assert "Ann Agent is at capacity (1 of 1 open conversations)" in refused.content.decode()
    second.refresh_from_db()
    assert second.assigned_to_id is None
    assert audit_rows(org) == before

    allowed = admin_client.post(
        f"/conversations/{second.pk}/", form(customer, subject="Second", assigned_to=agent.pk)
    )
    assert allowed.status_code == 302
    (assign,) = audit_rows(org, section="Work Session", action="assign", actor_id=str(admin.pk))
    assert assign["metadata"] == {
        "load_before": 1,
        "load_after": 2,
        "capacity": 1,
        "over_capacity": True,
    }


def test_snoozing_keeps_the_wake_time_and_waking_clears_it(org, agent_client, customer):
    conversation = services.conversation_create(customer=customer, subject="Call back Monday")
    agent_client.post(
        f"/conversations/{conversation.pk}/",
        form(
            customer, subject="Call back Monday", status="snoozed", snoozed_until="2030-01-07T09:00"
        ),
    )
    conversation.refresh_from_db()
    assert conversation.status == "snoozed"
    assert conversation.snoozed_until == datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    agent_client.post(
        f"/conversations/{conversation.pk}/", form(customer, subject="Call back Monday")
    )
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.snoozed_until is None


def test_bad_status_on_the_page_is_a_form_error_and_changes_nothing(org, agent_client, customer):
    conversation = services.conversation_create(customer=customer, subject="Login loop")
    before = audit_rows(org)
    response = agent_client.post(
        f"/conversations/{conversation.pk}/", form(customer, subject="Login loop", status="closed")
    )
    assert response.status_code == 400
    assert (
        "Select a valid choice. closed is not one of the available choices."
        in response.content.decode()
    )
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert audit_rows(org) == before


def test_another_organisations_conversation_is_not_found(org, other_org, agent_client):
    from core.tenancy import tenant

    with tenant(other_org):
        foreign = services.conversation_create(
            customer=services.customer_create(name="Globex buyer"), subject="Secret"
        )
    assert agent_client.get(f"/conversations/{foreign.pk}/").status_code == 404
    assert agent_client.post(f"/conversations/{foreign.pk}/", {"subject": "x"}).status_code == 404
    assert agent_client.post(f"/conversations/{foreign.pk}/delete/").status_code == 404
    with tenant(other_org):
        assert Conversation.objects.get(pk=foreign.pk).subject == "Secret"


def test_another_organisations_customer_cannot_be_chosen(org, other_org, agent_client, customer):
    from core.tenancy import tenant

    with tenant(other_org):
        foreign = services.customer_create(name="Globex buyer")
    response = agent_client.post("/conversations/new/", form(foreign))
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Conversation.objects.exists()


def test_pages_list_conversations_and_customers(org, agent, agent_client, customer):
    services.conversation_create(customer=customer, subject="Mine", assigned_to=agent)
    services.conversation_create(customer=customer, subject="Queued")
    mine = agent_client.get("/conversations/?assigned=mine").content.decode()
    assert "Mine" in mine and "Queued" not in mine
    assert "Grace Hopper" in agent_client.get("/customers/?q=grace").content.decode()


def test_people_without_conversations_work_get_403(org, agent, agent_client):
    from accounts.models import RoleGroup
    from accounts.services import role_group_update

    role_group_update(group=RoleGroup.objects.get(name="Agent"), permissions=[])
    assert agent_client.get("/conversations/").status_code == 403
    assert agent_client.get("/customers/").status_code == 403


def test_deleting_a_user_unassigns_their_conversations_on_the_record(
    org, admin, admin_client, agent, customer
):
    conversation = services.conversation_create(
        customer=customer, subject="Login loop", assigned_to=agent
    )
    assert admin_client.post(f"/settings/users/{agent.pk}/delete/").status_code == 302
    conversation.refresh_from_db()
    assert conversation.assigned_to_id is None
    by_admin = ("user", str(admin.pk), "Acme Admin")
    assert compact(audit_rows(org, section="Conversation", action="update"), *FIELDS) == [
        ("update", "assigned_to", "Ann Agent", None, *by_admin)
    ]
    (unassign,) = audit_rows(org, section="Work Session", action="unassign")
    assert unassign["metadata"] == {
        "load_before": 1,
        "load_after": 0,
        "capacity": 3,
        "over_capacity": False,
    }


def test_every_page_renders(org, agent, admin_client, customer):
    conversation = services.conversation_create(
        customer=customer, subject="Hello", assigned_to=agent
    )
    for url in (
        "/conversations/",
        "/conversations/new/",
        f"/conversations/new/?customer={customer.pk}",
        f"/conversations/{conversation.pk}/",
        "/customers/",
        "/customers/new/",
        f"/customers/{customer.pk}/",
        "/workspace/",
        "/settings/routing/",
        "/settings/workflows/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    edit = admin_client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "Delete conversation" in edit and 'value="Hello"' in edit
