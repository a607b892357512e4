"""Every Customer event of SPEC section 2, caused on the pages, and its exact audit rows."""

from conversations import services
from conversations.models import Conversation, Customer
from tests.conftest import audit_rows, compact

FIELDS = ("action", "property", "before", "after", "actor_type", "actor_id", "actor_name")
SUBJECT = ("subject_type", "subject_id", "subject_name")


def test_agent_creates_a_customer_on_the_page(org, agent, agent_client):
    response = agent_client.post(
        "/customers/new/",
        {
            "name": "Ada Lovelace",
            "email": "Ada@Example.com",
            "phone": "",
            "tags": "VIP, billing, vip",
        },
    )
    assert response.status_code == 302
    customer = Customer.objects.get(name="Ada Lovelace")
    assert customer.email == "ada@example.com" and customer.tags == ["vip", "billing"]

    rows = audit_rows(org, section="Customer")
    me = ("user", str(agent.pk), "Ann Agent")
    assert compact(rows, *FIELDS) == [
        ("create", "name", None, "Ada Lovelace", *me),
        ("create", "email", None, "ada@example.com", *me),
        ("create", "tags", None, ["vip", "billing"], *me),
    ]
    assert {compact([row], *SUBJECT)[0] for row in rows} == {
        ("customer", str(customer.pk), "Ada Lovelace")
    }
    assert len({row["change_id"] for row in rows}) == 1
    assert {(row["event_type"], row["ip_address"], row["user_agent"]) for row in rows} == {
        ("customer", "203.0.113.20", "pytest-agent/1.0")
    }


def test_agent_updates_a_customer_on_the_page(org, agent, agent_client, customer):
    response = agent_client.post(
        f"/customers/{customer.pk}/",
        {"name": "Grace Hopper", "email": "grace@example.com", "phone": "", "tags": "vip, navy"},
    )
    assert response.status_code == 302
    me = ("user", str(agent.pk), "Ann Agent")
    assert compact(audit_rows(org, section="Customer", action="update"), *FIELDS) == [
        ("update", "phone", "+44 20 7946 0000", "", *me),
        ("update", "tags", ["vip"], ["vip", "navy"], *me),
    ]


def test_saving_an_unchanged_customer_records_nothing(org, agent_client, customer):
    response = agent_client.post(
        f"/customers/{customer.pk}/",
        {
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "+44 20 7946 0000",
            "tags": "VIP",
        },
    )
    assert response.status_code == 302
    assert audit_rows(org, section="Customer", action="update") == []


def test_deleting_a_customer_deletes_and_records_their_conversations(
    org, agent, agent_client, customer
):
    conversation = services.conversation_create(customer=customer, subject="Printer on fire")
    response = agent_client.post(f"/customers/{customer.pk}/delete/")
    assert response.status_code == 302
    assert not Customer.objects.exists() and not Conversation.objects.exists()
    me = ("user", str(agent.pk), "Ann Agent")
    assert compact(audit_rows(org, action="delete"), "section", *FIELDS, "subject_id") == [
        ("Conversation", "delete", "subject", "Printer on fire", None, *me, str(conversation.pk)),
        ("Conversation", "delete", "customer", "Grace Hopper", None, *me, str(conversation.pk)),
        ("Conversation", "delete", "status", "open", None, *me, str(conversation.pk)),
        ("Conversation", "delete", "priority", "normal", None, *me, str(conversation.pk)),
        ("Customer", "delete", "name", "Grace Hopper", None, *me, str(customer.pk)),
        ("Customer", "delete", "email", "grace@example.com", None, *me, str(customer.pk)),
        ("Customer", "delete", "phone", "+44 20 7946 0000", None, *me, str(customer.pk)),
        ("Customer", "delete", "tags", ["vip"], None, *me, str(customer.pk)),
    ]


def test_invalid_customer_form_is_a_form_error_and_changes_nothing(org, agent_client, customer):
    response = agent_client.post(
        f"/customers/{customer.pk}/", {"name": "", "email": "not-an-email", "tags": ""}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body and "Enter a valid email address." in body
    customer.refresh_from_db()
    assert customer.name == "Grace Hopper"
    assert audit_rows(org, section="Customer", action="update") == []


def test_another_organisations_customer_is_not_found(org, other_org, agent_client):
    from core.tenancy import tenant

    with tenant(other_org):
        foreign = services.customer_create(name="Globex buyer")
    assert agent_client.get(f"/customers/{foreign.pk}/").status_code == 404
    assert agent_client.post(f"/customers/{foreign.pk}/delete/").status_code == 404
    with tenant(other_org):
        assert Customer.objects.filter(pk=foreign.pk).exists()
