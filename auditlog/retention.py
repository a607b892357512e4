"""Retention: each organisation's expired audit rows are purged on schedule, whole seals at a time.

Effective retention of a section = the organisation's AuditRetention for its event type if
set, else the catalog's default (90 days for session, work-session, conversation and
customer events, 365 for the rest), never more than Organization.audit_retention_days.
The database computes it (`audit_retention_days`) from AuditRetentionDefault, a copy of the
catalog refreshed after every migrate, so SQL and code agree.

Rows leave only through `audit_purge` (migration 0008), which removes whole seals whose
every event is past retention and leaves a receipt; months past every organisation's
retention are dropped whole first (auditlog.partitions). Events are sealed minutes after
they happen, long before they expire; unsealed rows are never purged. Rows without an
organisation (sign-in attempts for unknown emails) leave with their month's partition.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction

from auditlog import catalog, daycounts, partitions
from auditlog.models import AuditRetentionDefault
from auditlog.roles import owner_mode

log = logging.getLogger(__name__)


def default_days(section: catalog.Section) -> int:
    if section.name == "Session":
        return catalog.SESSION_RETENTION_DAYS
    return catalog.DEFAULT_RETENTION_DAYS[section.event_type]


def retention_defaults_sync(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: copy the catalog's defaults where the purge function reads them."""
    wanted = {section.name: section for section in catalog.SECTIONS}
    with owner_mode(using), transaction.atomic(using=using):
        manager = AuditRetentionDefault.objects.using(using)
        manager.exclude(section__in=wanted).delete()
        for name, section in wanted.items():
            manager.update_or_create(
                section=name,
                defaults={"event_type": section.event_type, "days": default_days(section)},
            )


def retention_days(org_id: int, section: str, *, using: str = "default") -> int | None:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT audit_retention_days(%s, %s)", [org_id, section])
        return cursor.fetchone()[0]


@dataclass
class PurgeSummary:
    partitions_dropped: list[str] = field(default_factory=list)
    events_purged: int = 0


def retention_purge(*, using: str = "default") -> PurgeSummary:
    """Drop expired months, then purge each chain's seals that are entirely past retention."""
    summary = PurgeSummary(partitions_dropped=partitions.partitions_drop_expired(using=using))
    with owner_mode(using), connections[using].cursor() as cursor:
        cursor.execute("SELECT DISTINCT org_id, section FROM auditlog_auditseal ORDER BY 1, 2")
        chains = cursor.fetchall()
    for org_id, section in chains:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SELECT audit_purge(%s, %s)", [org_id, section])
            purged = cursor.fetchone()[0]
            summary.events_purged += purged
            if purged:
                # The strip's day counts lose the purged events too.
                cursor.execute(
                    "SELECT last_occurred_at FROM auditlog_auditpurge WHERE org_id = %s "
                    "AND section = %s ORDER BY through_seq DESC LIMIT 1",
                    [org_id, section],
                )
                daycounts.forget(cursor.fetchone()[0], org_id=org_id, section=section, using=using)
    if summary.events_purged or summary.partitions_dropped:
        log.info(
            "audit retention: %s events purged, partitions dropped: %s",
            summary.events_purged,
            ", ".join(summary.partitions_dropped) or "none",
        )
    return summary
