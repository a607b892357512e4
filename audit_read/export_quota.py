"""Per-organisation limits on background exports: at once, per 24 hours, and on disk.

The limits are settings (EXPORT_MAX_CONCURRENT, EXPORT_MAX_PER_DAY, EXPORT_MAX_DISK_BYTES).
A request over one is refused with how long to wait; requests of one organisation are
checked one at a time (a transaction-scoped advisory lock), so two at once cannot both
take the last place.
"""

import math
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit_read.exports import export_start
from auditlog.models import AuditExport

DAY = timedelta(days=1)
# When a running export will end is unknown: ask the client to look again in a minute.
CONCURRENT_RETRY_SECONDS = 60
# First key of pg_advisory_xact_lock(int, int); the second is the organisation.
_LOCK_NAMESPACE = 0x45585154  # "EXPT"

ACTIVE = (AuditExport.Status.PENDING, AuditExport.Status.RUNNING)


class ExportQuotaExceeded(Exception):
    """An organisation is over one of its export limits; `retry_after` is in seconds."""

    def __init__(self, *, limit: str, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.retry_after = retry_after


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _gib(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB"


def export_quota_check(*, org_id: int) -> None:
    """Raise ExportQuotaExceeded if the organisation may not start another export now."""
    now = timezone.now()
    exports = AuditExport.all_tenants.filter(org_id=org_id)

    limit = settings.EXPORT_MAX_CONCURRENT
    active = exports.filter(status__in=ACTIVE).count()
    if active >= limit:
        raise ExportQuotaExceeded(
            limit="concurrent_exports",
            message=f"Too many background exports at once: {active} pending or running, the "
            f"limit is {limit} (EXPORT_MAX_CONCURRENT). Try again when one has finished.",
            retry_after=CONCURRENT_RETRY_SECONDS,
        )

    limit = settings.EXPORT_MAX_PER_DAY
    started = list(
        exports.filter(created_at__gt=now - DAY)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if len(started) >= limit:
        # A place frees when enough of the window's exports are 24 hours old.
        freeing = started[min(len(started) - limit, len(started) - 1)] if started else now
        raise ExportQuotaExceeded(
            limit="daily_exports",
            message=f"Daily export limit reached: {len(started)} background exports started "
            f"in the last 24 hours, the limit is {limit} (EXPORT_MAX_PER_DAY).",
            retry_after=_seconds_until(freeing + DAY, now),
        )

    limit = settings.EXPORT_MAX_DISK_BYTES
    # Finished files not yet expired; expired ones are deleted by auditlog.exports_delete_expired.
    stored = list(
        exports.filter(status=AuditExport.Status.DONE, expires_at__gt=now)
        .order_by("expires_at")
        .values_list("expires_at", "size_bytes")
    )
    total = sum(size for _, size in stored)
    if total >= limit:
        remaining, freeing = total, now + timedelta(hours=settings.EXPORT_TTL_HOURS)
        for expires_at, size in stored:
            remaining -= size
            if remaining < limit:
                freeing = expires_at
                break
        raise ExportQuotaExceeded(
            limit="export_disk_bytes",
            message=f"Export storage limit reached: this organisation's finished exports take "
            f"{_gib(total)}, the limit is {_gib(limit)} (EXPORT_MAX_DISK_BYTES). Space frees "
            "as older exports expire.",
            retry_after=_seconds_until(freeing, now),
        )


def export_start_within_quota(
    *, org: Any, fmt: Any, filters: Any, requested_by: str
) -> AuditExport:
    """export_start, unless the organisation is over a limit (ExportQuotaExceeded)."""
    export, _ = export_start_once(org=org, fmt=fmt, filters=filters, requested_by=requested_by)
    return export


# How long an Idempotency-Key names its first export; after that it starts a new one.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used, within the window, for a different request."""


def export_start_once(
    *,
    org: Any,
    fmt: Any,
    filters: Any,
    requested_by: str,
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> tuple[AuditExport, bool]:
    """export_start within the quota, once per `idempotency_key` (already scoped to the
    caller) in IDEMPOTENCY_WINDOW: (the export, whether it was created now). The same key
    with another `request_hash` raises IdempotencyConflict. The organisation's lock makes
    concurrent requests with one key start one export."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, org.pk % 2**31]
            )
        if idempotency_key is not None:
            first = AuditExport.objects.filter(org_id=org.pk, idempotency_key=idempotency_key)
            first = first.first()
            if first is not None:
                if first.created_at > timezone.now() - IDEMPOTENCY_WINDOW:
                    if first.request_hash != request_hash:
                        raise IdempotencyConflict
                    return first, False
                # Expired: the key is free again for a new export.
                AuditExport.objects.filter(pk=first.pk).update(idempotency_key=None)
        export_quota_check(org_id=org.pk)
        export = export_start(
            org=org,
            fmt=fmt,
            filters=filters,
            requested_by=requested_by,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        return export, True
