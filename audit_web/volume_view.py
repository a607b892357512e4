"""The Audit Log page's volume strip: events per day for its filters, as an SVG."""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.clickjacking import xframe_options_sameorigin

from accounts.decorators import org_permission_required
from audit_read import filters, volume
from audit_read.presentation import AUDIT_LOG_URL
from auditlog import daycounts

SVG = "image/svg+xml; charset=utf-8"


def _declined(text: str) -> HttpResponse:
    """A strip that says why it shows no bars. The browser keeps it for SLOW_SECONDS (events
    only accumulate, and the server remembers a timeout that long): before, every page view
    asked again."""
    response = HttpResponse(volume.message_svg(text), content_type=SVG)
    patch_cache_control(response, private=True, max_age=volume.SLOW_SECONDS)
    return response


@org_permission_required("audit.view")
@xframe_options_sameorigin  # embedded by the Audit Log page itself
def audit_log_volume(request: HttpRequest) -> HttpResponse:
    """Events per day for the Audit Log page's filters (same parameters), as an SVG strip whose
    bars link to the page narrowed to that day."""
    org = request.user.org
    params = {
        name: request.GET[name]
        for name in filters.FILTER_NAMES
        if name in request.GET and request.GET[name].strip()
    }
    queryset, errors = filters.filter_events(org, params)
    if errors:
        return HttpResponse(
            volume.message_svg("Fix the filters to see events per day."),
            content_type=SVG,
            status=400,
        )
    today = timezone.now().astimezone(org.tz).date()
    start, end = (
        volume.day_of(params.get("start"), org.tz),
        volume.day_of(params.get("end"), org.tz),
    )
    # Whole days only can share cached day counts (a date-time bound cuts its day short).
    whole_days = all(len(params.get(name, "").strip()) in (0, 10) for name in ("start", "end"))
    whole_days = whole_days and (start is None or start.year >= 1900)
    undated = {name: value for name, value in params.items() if name not in ("start", "end")}
    search_base = filters.scan_base(org, params)
    if search_base is not None and volume.too_many_to_search(search_base):
        return _declined("Too many events to count a search per day: narrow the dates or filters.")
    # Filters the day counts answer: the days they cover are summed, not counted.
    wanted = daycounts.servable(undated) if whole_days else None
    counted = (
        daycounts.counted_days(org.pk, org.time_zone, start, end, wanted)
        if wanted is not None
        else None
    )
    try:
        if counted is not None:
            counts, through = counted
            if end is None or end > through:
                live_from = through + timedelta(days=1)
                counts.update(
                    volume.daily_counts_cached(
                        queryset,
                        org.tz,
                        f"{org.created_at.timestamp()}:{org.time_zone}:"
                        f"{filters.filters_key(org, undated)}",
                        today,
                        live_from if start is None else max(start, live_from),
                        end,
                    )
                )
        elif whole_days:
            counts = volume.daily_counts_cached(
                queryset,
                org.tz,
                # The organisation's creation time too: a recreated database reusing ids
                # (tests) never meets another's counts.
                f"{org.created_at.timestamp()}:{org.time_zone}:{filters.filters_key(org, undated)}",
                today,
                start,
                end,
            )
        else:
            # Not cached (a date-time bound cuts its day short); a timeout still rests.
            counts = volume.daily_counts_cached(
                queryset,
                org.tz,
                f"{org.created_at.timestamp()}:{org.time_zone}:{filters.filters_key(org, params)}",
                today,
                None,
                end,
            )
    except volume.TooSlow:
        return _declined(
            "Too many events to count quickly: narrow the filters to see events per day."
        )
    days, truncated = volume.days_between(counts, start, end, today)
    others = {name: value for name, value in params.items() if name not in ("start", "end")}
    page_size = request.GET.get("page_size", "").strip()
    if page_size:
        others["page_size"] = page_size

    # One link per day (up to MAX_DAYS): the other filters are encoded once, not per day.
    tail = "&" + urlencode(others) if others else ""

    def link(day: Any) -> str:
        iso = day.isoformat()
        return f"{AUDIT_LOG_URL}?start={iso}&end={iso}{tail}"

    svg = volume.strip_svg(
        days,
        link,
        selected=start if start is not None and start == end else None,
        truncated=truncated,
    )
    response = HttpResponse(svg, content_type=SVG)
    # Paging Older or Newer keeps the filters, so the page embeds the same strip URL: the
    # browser reuses it for a minute instead of asking again (today's bar may lag that much).
    patch_cache_control(response, private=True, max_age=volume.BROWSER_SECONDS)
    return response
