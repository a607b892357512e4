"""Celery tasks for routing and connectivity: thin wrappers around worksession's services."""

from celery import shared_task
from django.db.models import Q

from conversations.models import Conversation
from worksession import routing, services
from worksession.models import AVAILABLE, AgentStatus


@shared_task
def route_queued_conversations(org_id: int) -> int:
    """One routing pass for one organisation; returns how many conversations it assigned."""
    return len(routing.route_queued_conversations(org_id=org_id))


@shared_task
def route_all_organizations() -> int:
    """Beat: a routing pass for each organisation with an Available agent and a waiting conversation."""
    available = set(
        AgentStatus.all_tenants.filter(status=AVAILABLE).values_list("org_id", flat=True)
    )
    waiting = set(
        Conversation.all_tenants.filter(
            org_id__in=available, status=Conversation.OPEN, assigned_to__isnull=True
        ).values_list("org_id", flat=True)
    )
    for org_id in sorted(waiting):
        route_queued_conversations.delay(org_id)
    return len(waiting)


@shared_task
def detect_heartbeat_lapses() -> int:
    """Beat: set agents whose heartbeat stopped Unavailable, and end sessions with no sign of life."""
    lapsed = 0
    active = AgentStatus.all_tenants.filter(
        Q(status=AVAILABLE) | Q(session_started_at__isnull=False)
    ).values_list("org_id", flat=True)
    for org_id in sorted(set(active)):
        lapsed += len(services.heartbeat_lapses_detect(org_id=org_id))
        services.work_sessions_expire(org_id=org_id)
    return lapsed
