"""Celery base task that carries the sender's audit context into the worker; audit log jobs."""

import logging
from typing import Any

from celery import Task, shared_task

from auditlog import context

CONTEXT_HEADER = "audit_context"

log = logging.getLogger(__name__)


class ContextTask(Task):
    """Tasks run with the audit context of whoever sent them (actor, org, ip, request id)."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        headers = dict(options.pop("headers", None) or {})
        headers.setdefault(CONTEXT_HEADER, context.current().to_dict())
        return super().apply_async(args, kwargs, headers=headers, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Custom message headers surface as attributes of the task's request.
        sent = getattr(self.request, CONTEXT_HEADER, None)
        if not sent:
            return super().__call__(*args, **kwargs)
        with context.use(context.AuditContext.from_dict(sent)):
            return super().__call__(*args, **kwargs)


# Platform jobs on the audit log (scheduled by CELERY_BEAT_SCHEDULE; never on the write path).


@shared_task(name="auditlog.seal_chains")
def seal_chains() -> int:
    """Seal every organisation's events that can no longer change; returns the seals made."""
    from auditlog import integrity

    return len(integrity.seal())


@shared_task(name="auditlog.verify_chains")
def verify_chains() -> int:
    """Recompute every organisation's chains (the viewer's badge shows the result)."""
    from accounts.models import Organization
    from auditlog import integrity

    broken = 0
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        report = integrity.verify(org_id)
        if not report.verified:
            broken += 1
            log.error("audit chain of organisation %s broken: %s", org_id, report.first_broken_link)
    return broken


@shared_task(name="auditlog.count_days")
def count_days() -> int:
    """Count the finished days of every organisation's events for the volume strip."""
    from auditlog import daycounts

    # A month per organisation per run at most: a backlog (a new time zone) catches up
    # over a few runs instead of holding the worker.
    return daycounts.roll_up(max_days=daycounts.CHUNK_DAYS).days


@shared_task(name="auditlog.partitions_ensure")
def partitions_ensure() -> list[str]:
    from auditlog import partitions

    return partitions.partitions_ensure()


@shared_task(name="auditlog.retention_purge")
def retention_purge() -> int:
    from auditlog import retention

    return retention.retention_purge().events_purged
