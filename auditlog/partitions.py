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

from auditlog import catalog, daycounts
from auditlog.roles import owner_db, owner_mode
from core import context

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
    using = owner_db(using)
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


def drop_boundary(using: str = "default", now: datetime | None = None) -> datetime:
    """Events before this are past every organisation's retention, whatever their section:
    the longest of the catalog's defaults and of every sealed per-type policy."""
    from auditlog import retention
    from auditlog.models import AuditSeal

    owner = owner_db(using)
    days = max(retention.default_days(section) for section in catalog.sections())
    org_ids = AuditSeal.objects.using(owner).order_by().values_list("org_id", flat=True).distinct()
    for org_id in org_ids:
        policies = retention.org_policies(org_id, using=owner)
        if policies.pending:
            return datetime.min.replace(tzinfo=UTC)  # a change waits to be sealed: drop nothing
        for chosen, _ in policies.types.values():
            days = max(days, chosen)
    return (now or timezone.now()) - timedelta(days=days)


def partitions_drop_expired(
    *, using: str = "default", now: datetime | None = None
) -> tuple[list[str], int]:
    """DETACH and DROP every month entirely past retention, each chain with seals in it first
    purged through its last seal there (receipt and signed tombstone). Returns the partitions
    dropped and the tombstones written."""
    from auditlog.integrity import write_digest_files

    owner = owner_db(using)
    boundary = drop_boundary(using, now)
    dropped, tombstones = [], 0
    for partition in partitions(owner):
        if partition.upper > boundary:
            break
        touched = set()
        try:
            tombstones += _drop(partition, owner, using, touched)
        except _KeepPartition:
            # A chain that does not verify keeps its month (and its seals): evidence first.
            log.error(
                "audit partition %s kept: a chain with seals in it does not verify", partition.name
            )
            break
        for org_id in touched:
            write_digest_files(org_id, using=using)
        dropped.append(partition.name)
        log.info("dropped expired audit partition %s", partition.name)
    return dropped, tombstones


class _KeepPartition(Exception):
    pass


def _drop(partition: Partition, owner: str, using: str, touched: set) -> int:
    """Tombstone every chain with seals in the partition, then drop it (one transaction)."""
    from auditlog import retention
    from auditlog.integrity import DigestChain
    from auditlog.models import AuditSeal

    tombstones = 0
    with owner_mode(using), transaction.atomic(using=owner):
        with connections[owner].cursor() as cursor:
            chains = (
                AuditSeal.objects.using(owner)
                .filter(last_occurred_at__lt=partition.upper)
                .order_by()
                .values_list("org_id", "section")
                .distinct()
            )
            for org_id, section in sorted(chains, key=lambda c: (c[0] or 0, c[1])):
                through = (
                    AuditSeal.objects.using(owner)
                    .filter(org_id=org_id, section=section, last_occurred_at__lt=partition.upper)
                    .order_by("-seq")
                    .first()
                )
                policies = retention.org_policies(org_id, using=owner)
                policy = policies.policy(catalog.section(section))
                with context.use(org_id=org_id):
                    purged = retention.purge_chain(
                        cursor,
                        org_id,
                        section,
                        through,
                        cutoff=partition.upper,
                        policy=policy,
                        chain=DigestChain(org_id, owner),
                        using=owner,
                        delete_events=False,
                    )
                if purged < 0:
                    raise _KeepPartition(partition.name)  # rolls every tombstone back
                tombstones += 1
                touched.add(org_id)
            cursor.execute(f'ALTER TABLE auditlog_auditevent DETACH PARTITION "{partition.name}"')
            cursor.execute(f'DROP TABLE "{partition.name}"')
        # Every event before the partition's end is gone: so are their day counts.
        daycounts.forget(partition.upper - timedelta(microseconds=1), using=owner)
    return tombstones
