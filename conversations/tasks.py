"""Celery tasks for conversations: the scheduled close workflow (thin wrapper over services)."""

from celery import shared_task

from accounts.models import Organization
from conversations import services
from core.tenancy import tenant


@shared_task
def close_stale_conversations(org_id: int) -> int:
    with tenant(org_id):
        return len(services.conversations_close_stale())


@shared_task
def close_stale_conversations_all() -> int:
    """Beat: run the close workflow of every organisation."""
    closed = 0
    for org_id in Organization.objects.values_list("pk", flat=True).order_by("pk"):
        closed += close_stale_conversations(org_id)
    return closed
