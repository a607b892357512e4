"""Audit log jobs: sealing, verification, retention, day counts (Celery beat)."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


# Platform jobs on the audit log (scheduled by CELERY_BEAT_SCHEDULE; never on the write path).


@shared_task(name="auditlog.seal_chains")
def seal_chains() -> int:
    """Seal every organisation's (and the platform's) events that can no longer change, sign
    their digests, and move each touched organisation's verified checkpoint on; returns the
    seals made."""
    from auditlog import integrity

    seals = integrity.seal()
    for org_id in sorted({seal.org_id for seal in seals}, key=lambda one: one or 0):
        report = integrity.verify(org_id, save=True)
        if not report.verified:
            log.error(
                "audit chain of %s broken: %s", org_id or "platform", report.first_broken_link
            )
    return len(seals)


@shared_task(name="auditlog.verify_chains")
def verify_chains(full: bool = False) -> int:
    """Verify every organisation's chains and the platform's: from each checkpoint against
    the stored signed digests, with the unsealed rows' MACs (hourly); or everything from the
    oldest retained seal against the digest files outside the database (`full`, daily)."""
    from auditlog import integrity
    from auditlog.roles import owner_db
    from core.tenancy import organization_model

    broken = 0
    org_ids: list[int | None] = list(
        organization_model().objects.using(owner_db()).order_by("pk").values_list("pk", flat=True)
    )
    for org_id in [*org_ids, None]:
        report = integrity.verify(
            org_id,
            save=True,
            full=full,
            digest_source="files" if full else "database",
            check_tail=True,
        )
        if not report.verified:
            broken += 1
            log.error(
                "audit chain of %s broken: %s", org_id or "platform", report.first_broken_link
            )
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
