"""Monthly partitions of the audit table: created ahead of time, expired ones dropped whole.

Partitions are UTC months named `auditlog_auditevent_pYYYYMM`; a DEFAULT partition catches
any row whose month has no partition yet, and `audit_ensure_partition` (migration 0006)
moves such rows into the month's partition when it is created. Dropping a month whose
every event is past every organisation's retention is instant, where DELETE of millions
of rows would bloat the table; the purge receipts keep the chains verifiable.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connections, transaction
from django.utils import timezone

from auditlog import daycounts
from auditlog.roles import owner_mode

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
_NAME = re.compile(r"^auditlog_auditevent_p(\d{4})(\d{2})$")


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime
    upper: datetime


def _month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


def _add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partitions(using: str = "default") -> list[Partition]:
    """The monthly partitions, oldest first (the DEFAULT partition is not listed)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'auditlog_auditevent'::regclass"
        )
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            lower = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            found.append(Partition(name, lower, _add_months(lower, 1)))
    return sorted(found, key=lambda partition: partition.lower)


def partitions_ensure(
    *, months_ahead: int = MONTHS_AHEAD, now: datetime | None = None, using: str = "default"
) -> list[str]:
    """Create this month's and the next months' partitions, and one for every month that
    has rows waiting in the DEFAULT partition (moving them in). Returns the names created."""
    now = now or timezone.now()
    this_month = _month_start(now.astimezone(UTC).date())
    existing = {partition.name for partition in partitions(using)}
    created = []
    with owner_mode(using), transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date "
                "FROM auditlog_auditevent_default"
            )
            months = {_month_start(row[0]) for row in cursor.fetchall()}
            months |= {_add_months(this_month, n) for n in range(months_ahead + 1)}
            for month in sorted(months):
                cursor.execute("SELECT audit_ensure_partition(%s)", [month.date()])
                name = cursor.fetchone()[0]
                if name not in existing:
                    created.append(name)
    if created:
        log.info("created audit partitions %s", ", ".join(created))
    return created


def drop_boundary(using: str = "default") -> datetime:
    """Events before this are past every organisation's retention, whatever their section."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT greatest(
              (SELECT max(audit_retention_days(o.id, d.section))
                 FROM accounts_organization o CROSS JOIN auditlog_auditretentiondefault d),
              -- Rows of deleted organisations (or none) keep the catalog's defaults.
              (SELECT max(days) FROM auditlog_auditretentiondefault))
            """
        )
        days = cursor.fetchone()[0]
    if days is None:
        raise RuntimeError("no retention defaults: run migrate")
    return timezone.now() - timedelta(days=days)


def partitions_drop_expired(*, using: str = "default") -> list[str]:
    """DETACH and DROP every month entirely past retention, and retire the seals it held."""
    boundary = drop_boundary(using)
    dropped = []
    for partition in partitions(using):
        if partition.upper > boundary:
            break
        with owner_mode(using), transaction.atomic(using=using):
            with connections[using].cursor() as cursor:
                cursor.execute(
                    f'ALTER TABLE auditlog_auditevent DETACH PARTITION "{partition.name}"'
                )
                cursor.execute(f'DROP TABLE "{partition.name}"')
                # The seals of the dropped rows go too, each chain leaving a purge receipt.
                cursor.execute(
                    "SELECT audit_purge(org_id, section, %s) FROM "
                    "(SELECT DISTINCT org_id, section FROM auditlog_auditseal "
                    " WHERE last_occurred_at < %s) AS chains",
                    [partition.upper, partition.upper],
                )
            # Every event before the partition's end is gone: so are their day counts.
            daycounts.forget(partition.upper - timedelta(microseconds=1), using=using)
        dropped.append(partition.name)
        log.info("dropped expired audit partition %s", partition.name)
    return dropped
