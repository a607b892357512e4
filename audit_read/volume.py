"""The Audit Log page's volume strip: events per day for the current filters, as a small SVG.

One GROUP BY over the same filtered queryset the page pages through (audit_read.filters),
bucketed by day in the organisation's time zone; the tenant-first indexes serve the range.
The strip is its own small document (embedded by the page), so counting a busy range never
delays the page's first rows, and a statement timeout bounds what counting may cost.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from html import escape
from typing import Any

from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.templatetags.static import static

from auditlog.models import AuditEventQuerySet

# Counting is cut off beyond this; the strip then says so instead of holding a worker.
TIMEOUT_MS = 3000
# Past days' counts are kept this long (see daily_counts_cached); a filter set whose
# counting timed out is not tried again for SLOW_SECONDS.
CACHE_SECONDS = 3600
SLOW_SECONDS = 60
TODAY_SECONDS = 30
# Browsers may reuse a strip this long (Cache-Control: private, max-age).
BROWSER_SECONDS = 60
# A search (q, ip) strip counts at most this many events of the other filters.
SEARCH_COUNT_LIMIT = 100_000
# Counting more events than PostgreSQL's estimate of this is declined without trying: at
# 100M events each new filter combination of a busy organisation's month ran into
# TIMEOUT_MS, holding a core and the disk for 3 s while pages waited (bench/TUNING.md).
ESTIMATE_LIMIT = 1_500_000
MAX_DAYS = 731
HEIGHT = 84
BARS_TOP, BARS_HEIGHT = 6, 54


class TooSlow(Exception):
    """Counting the filtered events took (or would take) longer than TIMEOUT_MS."""


def estimated_events(queryset: AuditEventQuerySet) -> int:
    """PostgreSQL's estimate of how many events the queryset holds (planning only)."""
    plan = json.loads(queryset.order_by().values("id").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def daily_counts(queryset: AuditEventQuerySet, tz: Any) -> dict[date, int]:
    """{local day: events} for a filtered queryset, in one grouped query under a timeout;
    TooSlow without counting when PostgreSQL estimates more than ESTIMATE_LIMIT events."""
    if estimated_events(queryset) > ESTIMATE_LIMIT:
        raise TooSlow
    grouped = (
        queryset.order_by()
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{TIMEOUT_MS}ms"])
            # One core at most: a count must not take both from the pages being served.
            cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
            return dict(grouped)
    except OperationalError as problem:
        raise TooSlow from problem


def _midnight(day: date, tz: Any) -> datetime:
    return datetime.combine(day, time.min, tz)


def _count_days(queryset: AuditEventQuerySet, tz: Any, first: date, last: date) -> dict[date, int]:
    """daily_counts over the local days first..last only."""
    return daily_counts(
        queryset.filter(
            occurred_at__gte=_midnight(first, tz),
            occurred_at__lt=_midnight(last + timedelta(days=1), tz),
        ),
        tz,
    )


def daily_counts_cached(
    queryset: AuditEventQuerySet,
    tz: Any,
    key: str,
    today: date,
    start: date | None,
    end: date | None,
) -> dict[date, int]:
    """daily_counts, remembering past days' counts for CACHE_SECONDS per (`key`, day).

    The log is append-only, so a day that is over keeps its count: today is counted at most
    every TODAY_SECONDS, and a past day once for every window that includes it (the 7-, 30- and 90-day
    views of the same filters share their days; paging Older keeps the same strip). `key`
    names the organisation and every filter but the dates, and `start`/`end` must be whole
    days (`queryset` holds the same range). Counting a busy organisation's 90 days on every
    page view made the strip the costliest request of the load test (bench/REPORT.md). A
    backdated record or a retention purge shows within CACHE_SECONDS.
    """
    cache_key = f"audit-volume:{key}"
    if _cache_get(f"{cache_key}:slow"):
        raise TooSlow
    if start is None:
        # Unbounded (an object's events, usually few): counted each time, not cached.
        try:
            return daily_counts(queryset, tz)
        except TooSlow:
            _cache_set(f"{cache_key}:slow", True, SLOW_SECONDS)
            raise
    last_past = (
        min(end, today - timedelta(days=1)) if end is not None else today - timedelta(days=1)
    )
    counts: dict[date, int] = {}
    if start <= last_past:
        entry = _cache_get(cache_key)
        if entry:
            lo, hi = date.fromisoformat(entry["lo"]), date.fromisoformat(entry["hi"])
            counts = _from_cache(entry["counts"])
        else:
            lo, hi = start, start - timedelta(days=1)  # nothing counted yet
        # Count only the stretches the cache lacks: before what it covers, and after.
        stretches = []
        if start < lo:
            stretches.append((start, min(last_past, lo - timedelta(days=1))))
        if last_past > hi:
            stretches.append((max(start, hi + timedelta(days=1)), last_past))
        try:
            for first, last in stretches:
                counts.update(_count_days(queryset, tz, first, last))
        except TooSlow:
            _cache_set(f"{cache_key}:slow", True, SLOW_SECONDS)
            raise
        lo, hi = min(lo, start), max(hi, last_past)
        if stretches:
            _cache_set(
                cache_key,
                {
                    "lo": lo.isoformat(),
                    "hi": hi.isoformat(),
                    "counts": _to_cache({day: n for day, n in counts.items() if lo <= day <= hi}),
                },
                CACHE_SECONDS,
            )
        counts = {day: n for day, n in counts.items() if start <= day <= last_past}
    if end is None or end >= today:
        counts.update(_today_counts(queryset, tz, cache_key, today))
    return counts


def _today_counts(queryset: AuditEventQuerySet, tz: Any, cache_key: str, today: date) -> dict:
    """Today's count, reused for TODAY_SECONDS: the strip's response may be a minute old in
    the browser anyway (max-age=60), and under the load test counting a busy organisation's
    today on every view cost PostgreSQL 20 ms per strip at 1M events (its newest rows are
    not yet all-visible, so the index-only count still reads the heap)."""
    key = f"{cache_key}:today:{today.isoformat()}"
    if TODAY_SECONDS > 0:
        cached = _cache_get(key)
        if cached is not None:
            return _from_cache(cached)
    counts = daily_counts(queryset.filter(occurred_at__gte=_midnight(today, tz)), tz)
    if TODAY_SECONDS > 0:
        _cache_set(key, _to_cache(counts), TODAY_SECONDS)
    return counts


def _to_cache(counts: dict[date, int]) -> dict[str, int]:
    return {day.isoformat(): n for day, n in counts.items()}


def _from_cache(counts: dict[str, int]) -> dict[date, int]:
    return {date.fromisoformat(day): n for day, n in counts.items()}


def too_many_to_search(base: AuditEventQuerySet) -> bool:
    """A free-text or IP filter has no index: counting its matches reads every event the
    other filters leave. Above SEARCH_COUNT_LIMIT of those, the strip declines (counting a
    busy organisation's whole log per page view took seconds of a core each at 10M)."""
    return base.order_by().values("id")[: SEARCH_COUNT_LIMIT + 1].count() > SEARCH_COUNT_LIMIT


def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - Redis down: count, as without a cache
        return None


def _cache_set(key: str, value: Any, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:  # noqa: BLE001, S110 - the strip is already counted; caching is a bonus
        pass


def day_of(text: str | None, tz: Any) -> date | None:
    """The local day a `start`/`end` filter value names (a date, or a date-time's local day)."""
    if not text:
        return None
    text = text.strip().upper()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            return moment.date()
        return moment.astimezone(tz).date()
    except (ValueError, OverflowError):  # not a date, or one whose local day is out of range
        return None


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    count: int


def days_between(
    counts: dict[date, int], start: date | None, end: date | None, today: date
) -> tuple[list[Day], bool]:
    """Every day of the range (zero days too); the latest MAX_DAYS if longer (and True)."""
    # Never past the latest day with events (or today): the future has nothing to count.
    latest = max([today, *counts])
    first = start if start is not None else min(counts, default=today)
    last = min(end, latest) if end is not None else latest
    if last < first:
        return [], False
    truncated = (last - first).days + 1 > MAX_DAYS
    if truncated:
        first = last - timedelta(days=MAX_DAYS - 1)
    span = (last - first).days + 1
    return [
        Day(first + timedelta(days=n), counts.get(first + timedelta(days=n), 0))
        for n in range(span)
    ], truncated


def _pct(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") + "%"


def _label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _stylesheet() -> str:
    """The strip's styles, a static file linked from the SVG: the Content-Security-Policy
    allows no inline <style>."""
    return f'<?xml-stylesheet type="text/css" href="{escape(static("css/volume-strip.css"))}"?>'


def strip_svg(
    days: list[Day],
    link: Callable[[date], str],
    *,
    selected: date | None = None,
    truncated: bool = False,
) -> str:
    """The strip: one bar per day, each a link; labels for the range, the total and the peak.

    The days are one tab stop (a toolbar with a roving tabindex): the selected day, or else the
    latest, takes focus, and volume-strip.js moves it with the arrow keys; Enter follows it.
    """
    total = sum(day.count for day in days)
    focused = selected if any(day.day == selected for day in days) else None
    if focused is None and days:
        focused = days[-1].day
    peak = max(days, key=lambda day: day.count, default=None)
    slot = 100 / len(days) if days else 100
    gap = slot * 0.22
    parts = [
        _stylesheet(),
        '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="'
        f'{HEIGHT}" role="toolbar" aria-label="Events per day: {total:,} in {len(days)} day'
        f'{"s" if len(days) != 1 else ""}; arrow keys move between days, Enter shows one">',
    ]
    bottom = BARS_TOP + BARS_HEIGHT
    for index, day in enumerate(days):
        x = index * slot
        height = 0 if not peak or not peak.count else day.count / peak.count * BARS_HEIGHT
        height = max(height, 2 if day.count else 1)
        classes = (
            "bar"
            + (" zero" if not day.count else "")
            + (" selected" if day.day == selected else "")
        )
        text = f"{_label(day.day)}: {day.count:,} event{'s' if day.count != 1 else ''}"
        parts.append(
            f'<a href="{escape(link(day.day))}" target="_top" aria-label="{escape(text)}" '
            f'tabindex="{0 if day.day == focused else -1}" '
            f'data-day="{day.day.isoformat()}" data-count="{day.count}">'
            f"<title>{escape(text)} (show only this day)</title>"
            f'<rect class="hit" x="{_pct(x)}" y="0" width="{_pct(slot)}" height="{bottom}"/>'
            f'<rect class="{classes}" x="{_pct(x + gap / 2)}" y="{bottom - height:.1f}" '
            f'width="{_pct(max(slot - gap, 0.05))}" height="{height:.1f}"/></a>'
        )
    parts.append(f'<line class="base" x1="0" x2="100%" y1="{bottom + 0.5}" y2="{bottom + 0.5}"/>')
    label_y = HEIGHT - 8
    if days:
        summary = f"{total:,} event{'s' if total != 1 else ''}"
        if peak and peak.count:
            summary += f" · busiest {peak.day.day} {peak.day:%b}: {peak.count:,}"
        if truncated:
            summary += f" · latest {MAX_DAYS} days shown"
        parts.append(f'<text x="0" y="{label_y}">{days[0].day.day} {days[0].day:%b %Y}</text>')
        parts.append(f'<text x="50%" y="{label_y}" text-anchor="middle">{escape(summary)}</text>')
        if len(days) > 1:
            parts.append(
                f'<text x="100%" y="{label_y}" text-anchor="end">{days[-1].day.day} {days[-1].day:%b %Y}</text>'
            )
    else:
        parts.append(f'<text x="0" y="{label_y}">No days in this range.</text>')
    parts.append(f'<script href="{escape(static("js/volume-strip.js"))}"/></svg>')
    return "".join(parts)


def message_svg(text: str) -> str:
    """A strip that only says something (counting too slow, filters not valid)."""
    return (
        f'{_stylesheet()}<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(text)}">'
        f'<text x="0" y="{HEIGHT // 2}">{escape(text)}</text></svg>'
    )
