"""Events per organisation and local day, by event type, section and subject type, counted once.

The volume strip (audit_read/volume.py) counted the events of its date range for each filter
combination. At 100M events a busy organisation's 90 days are 26M rows read from disk,
which held a core and the disk while pages waited (bench/TUNING.md item 14). The log is
append-only, so a day that is over keeps its count: `roll_up` (Celery beat, every
AUDIT_DAY_COUNT_INTERVAL_SECONDS) counts each organisation's finished days once, in its
time zone, and the strip sums those rows when its filters are only event types, sections
and settings kinds (`servable`); the days after the last counted one are counted live.

- A day is finished once the sealing horizon (no open transaction can still write it; see
  auditlog.integrity) is past its end.
- Retention purges and dropped partitions remove counted events: `forget` fixes the counts.
- A time zone change starts the organisation's counts over in the new zone; until they
  catch up the strip counts the events themselves.
- Never on the write path: recording an event costs nothing more.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Sum

from auditlog.models import AuditEventDayCount, AuditEventDayMark
from auditlog.roles import owner_db, owner_mode
from core import context

log = logging.getLogger(__name__)

# Days counted per statement: a busy organisation's backlog goes a month at a time.
CHUNK_DAYS = 31

_COUNT_SQL = """
INSERT INTO auditlog_auditeventdaycount
       (org_id, day, event_type, section, subject_type, events)
SELECT %(org)s, (e.occurred_at AT TIME ZONE %(tz)s)::date, e.event_type, e.section,
       e.subject_type, count(*)
  FROM auditlog_auditevent e
 WHERE e.org_id = %(org)s AND e.occurred_at >= %(lo)s AND e.occurred_at < %(hi)s {section}
 GROUP BY 2, 3, 4, 5
"""


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tz)


def _count(
    cursor: Any, org_id: int, tz: ZoneInfo, first: date, last: date, section: str = ""
) -> None:
    """Insert the counts of the local days first..last (none may be counted yet)."""
    cursor.execute(
        _COUNT_SQL.format(section="AND e.section = %(section)s" if section else ""),
        {
            "org": org_id,
            "tz": tz.key,
            "lo": _midnight(first, tz),
            "hi": _midnight(last + timedelta(days=1), tz),
            "section": section,
        },
    )


@dataclass
class RollUp:
    organisations: int = 0
    days: int = 0


def _locked(cursor: Any, org_id: int) -> bool:
    """One counter per organisation at a time (beat, a purge, the bench loader)."""
    cursor.execute(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('auditlog.daycounts', %s))", [org_id]
    )
    return cursor.fetchone()[0]


def roll_up_org(
    org_id: int,
    time_zone: str,
    horizon: datetime,
    *,
    max_days: int | None = None,
    using: str = "default",
) -> int:
    """Count the organisation's finished days not yet counted (at most `max_days`); returns
    the days counted."""
    using = owner_db(using)
    tz = ZoneInfo(time_zone)
    last_day = horizon.astimezone(tz).date() - timedelta(days=1)
    counted = 0
    with context.use(org_id=org_id), owner_mode(using):
        while max_days is None or counted < max_days:
            with transaction.atomic(using=using), connections[using].cursor() as cursor:
                if not _locked(cursor, org_id):
                    return counted
                mark = AuditEventDayMark.objects.using(using).filter(org_id=org_id).first()
                if mark is not None and mark.time_zone != time_zone:
                    # Days in another zone: start over (the strip counts live meanwhile).
                    AuditEventDayCount.objects.using(using).filter(org_id=org_id).delete()
                    mark.delete()
                    mark = None
                if mark is None:
                    cursor.execute(
                        "SELECT min(occurred_at) FROM auditlog_auditevent WHERE org_id = %s",
                        [org_id],
                    )
                    oldest = cursor.fetchone()[0]
                    first = oldest.astimezone(tz).date() if oldest else last_day + timedelta(days=1)
                    mark = AuditEventDayMark(
                        org_id=org_id, time_zone=time_zone, through_day=first - timedelta(days=1)
                    )
                first = mark.through_day + timedelta(days=1)
                if first > last_day:
                    if mark.pk is None:
                        mark.save(using=using)
                    return counted
                span = min(CHUNK_DAYS, (last_day - first).days + 1)
                if max_days is not None:
                    span = min(span, max_days - counted)
                last = first + timedelta(days=span - 1)
                _count(cursor, org_id, tz, first, last)
                mark.through_day = last
                mark.save(using=using)
                counted += span
    return counted


def roll_up(
    *, org_id: int | None = None, max_days: int | None = None, using: str = "default"
) -> RollUp:
    """Count every organisation's (or one's) finished days not counted yet."""
    from auditlog.integrity import _horizon
    from core.tenancy import organization_model

    using = owner_db(using)
    with owner_mode(using), connections[using].cursor() as cursor:
        horizon = _horizon(cursor, settings.AUDIT_SEAL_MARGIN_SECONDS)
    organisations = organization_model().objects.using(using).order_by("pk")
    if org_id is not None:
        organisations = organisations.filter(pk=org_id)
    summary = RollUp()
    for pk, time_zone in organisations.values_list("pk", "time_zone"):
        days = roll_up_org(pk, time_zone, horizon, max_days=max_days, using=using)
        if days:
            summary.organisations += 1
            summary.days += days
    if summary.days:
        log.info(
            "audit day counts: %s days of %s organisations counted",
            summary.days,
            summary.organisations,
        )
    return summary


def forget(
    gone_through: datetime,
    *,
    org_id: int | None = None,
    section: str = "",
    using: str = "default",
) -> None:
    """Events up to `gone_through` (of one organisation and section, or all) were purged: drop
    the counts of the days before it and count its own day again. Call it in the purge's
    transaction."""
    from core.tenancy import organization_model

    using = owner_db(using)
    org_ids = (
        [org_id]
        if org_id is not None
        else list(
            organization_model().objects.using(using).order_by("pk").values_list("pk", flat=True)
        )
    )
    for one in org_ids:
        # One organisation at a time: row-level security shows each only its own rows.
        with context.use(org_id=one), owner_mode(using), connections[using].cursor() as cursor:
            mark = AuditEventDayMark.objects.using(using).filter(org_id=one).first()
            if mark is None:
                continue
            tz = ZoneInfo(mark.time_zone)
            boundary = gone_through.astimezone(tz).date()
            rows = AuditEventDayCount.objects.using(using).filter(org_id=one, day__lte=boundary)
            if section:
                rows = rows.filter(section=section)
            rows.delete()
            if boundary <= mark.through_day:
                _count(cursor, one, tz, boundary, boundary, section)


# --------------------------------------------------------------------------- reading

# The strip's filters the counts can answer (everything else counts events).
SERVABLE = frozenset({"event_type", "section", "kind"})


def servable(filters: dict[str, str]) -> dict[str, list[str]] | None:
    """The counts' filters for the strip's (already valid) undated filters, or None."""
    if not set(filters) <= SERVABLE:
        return None
    wanted: dict[str, list[str]] = {}
    if filters.get("event_type"):
        wanted["event_type"] = [t.strip() for t in filters["event_type"].split(",") if t.strip()]
    if filters.get("section"):
        wanted["section"] = [filters["section"].strip()]
    if filters.get("kind"):
        # As the Kind filter does: settings events about that kind of object.
        wanted["event_type"] = [
            t for t in wanted.get("event_type", ["settings"]) if t == "settings"
        ]
        wanted["subject_type"] = [filters["kind"].strip()]
    return wanted


def counted_days(
    org_id: int,
    time_zone: str,
    start: date | None,
    end: date | None,
    wanted: dict[str, list[str]],
) -> tuple[dict[date, int], date] | None:
    """({day: events} of the counted days in start..end, the last counted day), or None when
    the organisation's days are not counted in this time zone (yet)."""
    through = (
        AuditEventDayMark.objects.filter(org_id=org_id, time_zone=time_zone)
        .values_list("through_day", flat=True)
        .first()
    )
    if through is None:
        return None
    last = through if end is None else min(end, through)
    rows = AuditEventDayCount.objects.filter(org_id=org_id, day__lte=last)
    if start is not None:
        rows = rows.filter(day__gte=start)
    for field, values in wanted.items():
        rows = rows.filter(**{f"{field}__in": values})
    counts = rows.order_by().values("day").annotate(n=Sum("events")).values_list("day", "n")
    return {day: n for day, n in counts if n}, through
