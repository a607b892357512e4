"""Celery tasks for settings: support access ending at its expiry (thin wrappers over services)."""

from celery import shared_task

from core import clock
from core.tenancy import tenant
from settings_app import services
from settings_app.models import SupportAccess


@shared_task
def support_access_expire(org_id: int) -> int:
    with tenant(org_id):
        return len(services.support_access_expire())


@shared_task
def support_access_expire_all() -> int:
    """Beat: disable every organisation's grants past their expiry; returns how many."""
    org_ids = (
        SupportAccess.all_tenants.filter(enabled=True, expires_at__lte=clock.now())
        .order_by("org_id")
        .values_list("org_id", flat=True)
        .distinct()
    )
    return sum(support_access_expire(org_id) for org_id in org_ids)
