"""The queue router: assigns waiting conversations to Available agents with room, least loaded first.

Safe under concurrency. A run first locks the Available agents' rows (in primary-key order,
so two runs never deadlock), which makes concurrent runs for one organisation take turns
over the agents' loads; it then claims waiting conversations with
`SELECT … FOR UPDATE SKIP LOCKED`, so a conversation someone else is holding is left for
the next run rather than waited for or assigned twice.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, Count, IntegerField, Value, When

from conversations import services as conversations
from conversations.models import Conversation
from core.context import Actor
from core.tenancy import tenant
from worksession.models import AVAILABLE, AgentStatus

ROUTER = Actor("queue_router", None, "Queue router")

# Most urgent first, then oldest.
_PRIORITY_ORDER = Case(
    When(priority="urgent", then=Value(0)),
    When(priority="high", then=Value(1)),
    When(priority="normal", then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class Assignment:
    conversation_id: int
    agent_id: int
    load_after: int


def route_queued_conversations(*, org_id: int) -> list[Assignment]:
    """One routing pass for one organisation; returns what it assigned."""
    assignments: list[Assignment] = []
    with tenant(org_id, actor=ROUTER), transaction.atomic():
        agents = list(
            AgentStatus.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(status=AVAILABLE, user__is_active=True, session_started_at__isnull=False)
            .order_by("pk")
        )
        if not agents:
            return assignments
        loads = dict(
            Conversation.objects.filter(
                status=Conversation.OPEN, assigned_to_id__in=[agent.pk for agent in agents]
            )
            .order_by()
            .values("assigned_to_id")
            .annotate(n=Count("id"))
            .values_list("assigned_to_id", "n")
        )
        room = {
            agent.pk: agent.capacity - loads.get(agent.pk, 0)
            for agent in agents
            if agent.capacity > loads.get(agent.pk, 0)
        }
        if not room:
            return assignments
        queued = list(
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Conversation.OPEN, assigned_to__isnull=True)
            .order_by(_PRIORITY_ORDER, "created_at", "id")[: sum(room.values())]
        )
        by_pk = {agent.pk: agent for agent in agents}
        for conversation in queued:
            if not room:
                break
            # Least loaded first; ties go to the agent with the most room, then the lowest id.
            agent_id = min(room, key=lambda pk: (loads.get(pk, 0), -room[pk], pk))
            conversations.conversation_assign(
                conversation=conversation, assignee=by_pk[agent_id].user
            )
            loads[agent_id] = loads.get(agent_id, 0) + 1
            room[agent_id] -= 1
            if room[agent_id] == 0:
                del room[agent_id]
            assignments.append(Assignment(conversation.pk, agent_id, loads[agent_id]))
    return assignments
