"""The scheduled close workflow: idle and overslept conversations are closed, performed by `workflow`."""

from datetime import timedelta

from django.utils import timezone

from conversations import services
from conversations.models import Conversation, WorkflowSettings
from conversations.tasks import close_stale_conversations, close_stale_conversations_all
from core import clock
from tests.conftest import audit_rows, compact


def at(moment):
    return clock.use(lambda: moment)


def test_idle_and_overslept_conversations_are_closed_by_the_workflow(org, customer, agent):
    now = timezone.now()
    with at(now - timedelta(days=8)):
        idle = services.conversation_create(
            customer=customer, subject="Gone quiet", assigned_to=agent
        )
    with at(now - timedelta(days=2)):
        recent = services.conversation_create(customer=customer, subject="Still talking")
    overslept = services.conversation_create(
        customer=customer,
        subject="Call back",
        status="snoozed",
        snoozed_until=now - timedelta(hours=1),
    )
    dozing = services.conversation_create(
        customer=customer,
        subject="Call back later",
        status="snoozed",
        snoozed_until=now + timedelta(days=1),
    )

    assert close_stale_conversations.apply(args=[org.pk]).get() == 2

    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses == {
        idle.pk: "done",
        recent.pk: "open",
        overslept.pk: "done",
        dozing.pk: "snoozed",
    }
    workflow = ("workflow", str(WorkflowSettings.objects.get().pk), "Close idle conversations")
    rows = audit_rows(org, section="Conversation", action="update")
    assert compact(
        rows, "subject_id", "property", "before", "after", "actor_type", "actor_id", "actor_name"
    ) == [
        (str(overslept.pk), "status", "snoozed", "done", *workflow),
        (str(idle.pk), "status", "open", "done", *workflow),
    ]
    # Closing takes the conversation off the agent's load; the assignment itself stays.
    assert Conversation.objects.get(pk=idle.pk).assigned_to_id == agent.pk


def test_the_administrator_sets_the_idle_days_and_can_turn_it_off(org, admin_client, customer):
    with at(timezone.now() - timedelta(days=3)):
        services.conversation_create(customer=customer, subject="Three days quiet")

    response = admin_client.post("/settings/workflows/", {"enabled": "on", "idle_days": "5"})
    assert response.status_code == 302
    assert close_stale_conversations_all.apply().get() == 0

    admin_client.post("/settings/workflows/", {"enabled": "on", "idle_days": "2"})
    admin_client.post("/settings/workflows/", {"idle_days": "2"})
    assert close_stale_conversations_all.apply().get() == 0
    assert Conversation.objects.get().status == "open"

    admin_client.post("/settings/workflows/", {"enabled": "on", "idle_days": "2"})
    assert close_stale_conversations_all.apply().get() == 1


def test_invalid_idle_days_is_a_form_error(org, admin_client, agent_client):
    response = admin_client.post("/settings/workflows/", {"enabled": "on", "idle_days": "0"})
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1." in response.content.decode()
    assert services.workflow_settings().idle_days == 7
    assert agent_client.get("/settings/workflows/").status_code == 403
