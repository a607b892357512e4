"""Administrator pages about agents' work: the work-session timeline, the connectivity report
and Team Pulse (live, refreshed from a small JSON endpoint).

Timeline and connectivity are read from the audit record (audit.view); Team Pulse shows the
routing state now (routing.manage). Another organisation's agent answers 404.
"""

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe

from accounts.decorators import org_permission_required
from accounts.models import User
from audit_read import presentation
from auditlog import catalog
from auditlog.models import AuditEvent
from core import clock, timefmt
from insights import reports, timeline

AUDIT_LOG_URL = presentation.AUDIT_LOG_URL
PULSE_INTERVAL_SECONDS = 3
_MAX_ID = 2**63 - 1
# Dates people can mean; beyond them day arithmetic would leave the calendar.
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)


class RangeError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def date_range(
    params: QueryDict, *, today: date, default_days: int, max_days: int
) -> tuple[date, date]:
    """`start` and `end` (YYYY-MM-DD, end inclusive); by default the last `default_days` days."""
    errors: dict[str, str] = {}
    values: dict[str, date | None] = {}
    for name in ("start", "end"):
        text = (params.get(name) or "").strip()
        values[name] = None
        if text:
            try:
                if len(text) != 10:
                    raise ValueError(text)
                values[name] = date.fromisoformat(text)
            except ValueError:
                errors[name] = "Use a date like 2025-03-01."
                continue
            if not EARLIEST <= values[name] <= LATEST:
                errors[name] = f"Use a date from {EARLIEST.year} to {LATEST.year}."
    if errors:
        raise RangeError(errors)
    start, end = values["start"], values["end"]
    if start is None and end is None:
        end = today
        start = today - timedelta(days=default_days - 1)
    elif start is None:
        start = end - timedelta(days=default_days - 1)
    elif end is None:
        end = start + timedelta(days=default_days - 1)
    if start > end:
        raise RangeError({"start": "start is after end."})
    if (end - start).days + 1 > max_days:
        raise RangeError({"end": f"Choose at most {max_days} days."})
    return start, end


def _today(org: Any) -> date:
    return clock.now().astimezone(org.tz).date()


def _instant_link(event: AuditEvent, **filters: str) -> str:
    """The audit log filtered to the rows recorded at one event's instant."""
    at = event.occurred_at.astimezone(UTC).isoformat()
    return AUDIT_LOG_URL + "?" + urlencode({**filters, "start": at, "end": at})


# Work-session timeline -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineRow:
    event: AuditEvent
    local_text: str
    utc_iso: str
    what: str
    detail: str
    performed_by: str
    link: str
    classes: str


def _row_of(event: AuditEvent, tz: Any, link: str) -> TimelineRow:
    metadata = event.metadata or {}
    performed_by, _ = presentation.performed_by_label(event)
    what = catalog.ACTIONS.get(event.action, event.action)
    detail = ""
    classes = f"ev-{event.action}"
    if event.property == "status":
        what = "Status"
        detail = f"{event.before or '—'} → {event.after or '—'}"
        if metadata.get("reason") == "heartbeat_lapse":
            detail += " (connectivity lapse)"
            classes += " lapse"
    elif event.property == "capacity":
        what = "Capacity"
        detail = f"{event.before} → {event.after}"
    elif event.action in ("assign", "unassign"):
        ref = event.after if event.action == "assign" else event.before
        subject = ref.get("subject", "") if isinstance(ref, dict) else ""
        detail = f"“{subject}”"
        if "load_after" in metadata:
            detail += (
                f": load {metadata.get('load_before')} → {metadata.get('load_after')} "
                f"of {metadata.get('capacity')}"
            )
        if metadata.get("over_capacity") and event.action == "assign":
            detail += " · over capacity"
            classes += " over"
    elif event.action in ("session_start", "session_end"):
        reason = metadata.get("reason")
        detail = f"reason: {reason}" if reason else ""
    local = event.occurred_at.astimezone(tz)
    return TimelineRow(
        event=event,
        local_text=timefmt.short_datetime_text(local),
        utc_iso=f"{event.occurred_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        what=what,
        detail=detail,
        performed_by=performed_by,
        link=link,
        classes=classes,
    )


def _agent_or_404(org_id: int, agent_id: int) -> tuple[User | None, str]:
    if agent_id > _MAX_ID:
        raise Http404("No such agent.")
    agent = User.objects.filter(pk=agent_id).first()  # scoped: another organisation's is None
    if agent is not None:
        return agent, str(agent)
    if not timeline.has_rows_about(org_id, agent_id):
        raise Http404("No such agent in this organisation.")
    last = (
        AuditEvent.objects.for_org(org_id)
        .filter(subject_type="user", subject_id=str(agent_id))
        .order_by("-occurred_at", "-id")
        .values_list("subject_name", flat=True)
        .first()
    )
    return None, last or f"User #{agent_id}"


@org_permission_required("audit.view")
def agent_timeline(request: HttpRequest, agent_id: int) -> HttpResponse:
    """One agent's day (or range): status bands, load against capacity, assignments, lapses."""
    org = request.user.org
    tz = org.tz
    agent, name = _agent_or_404(org.pk, agent_id)
    today = _today(org)
    base = reverse("work_timeline", args=[agent_id])
    context: dict[str, Any] = {
        "agent": agent,
        "agent_id": agent_id,
        "name": name,
        "tz_name": org.time_zone,
        "errors": [],
        "values": {
            "start": request.GET.get("start", "")[:10],
            "end": request.GET.get("end", "")[:10],
        },
        "history_url": reverse("audit_history", args=["user", agent_id]),
    }
    try:
        start, end = date_range(
            request.GET, today=today, default_days=1, max_days=timeline.MAX_DAYS
        )
    except RangeError as problem:
        context["errors"] = sorted(problem.errors.items())
        return render(request, "worksession/timeline.html", context, status=400)

    first, last = timeline.day_range(start, end, tz)
    built = timeline.build(
        org_id=org.pk, agent_id=agent_id, agent_name=name, start=first, end=last, now=clock.now()
    )
    filters = {"event_type": "work_session", "agent": str(agent_id)}

    def link(event: AuditEvent) -> str:
        return _instant_link(event, **filters)

    length = (end - start).days + 1
    shift = timedelta(days=length)
    t = built.totals
    context |= {
        "start": start,
        "end": end,
        "values": {"start": start.isoformat(), "end": end.isoformat()},
        "single_day": start == end,
        "timeline": built,
        "svg": mark_safe(timeline.render_svg(built, tz, link)),  # noqa: S308 - built with escape()
        "rows": [_row_of(event, tz, link(event)) for event in built.events],
        "totals": {
            "logged_in": timeline.duration_text(t.logged_in),
            "logged_in_seconds": int(t.logged_in.total_seconds()),
            "available": timeline.duration_text(t.available),
            "available_seconds": int(t.available.total_seconds()),
            "handled": t.handled,
            "assignments": t.assignments,
            "over_capacity": t.over_capacity,
            "lapses": t.lapses,
        },
        "previous_url": base + "?" + urlencode({"start": start - shift, "end": end - shift}),
        "next_url": base + "?" + urlencode({"start": start + shift, "end": end + shift})
        if end < today
        else None,
        "today_url": base,
        "audit_url": AUDIT_LOG_URL
        + "?"
        + urlencode({"start": start.isoformat(), "end": end.isoformat(), **filters}),
        "drawn_until_local": f"{built.drawn_until.astimezone(tz):%H:%M}",
        "in_future": built.drawn_until <= built.start,
    }
    return render(request, "worksession/timeline.html", context)


# Connectivity report --------------------------------------------------------------------------


@org_permission_required("audit.view")
def connectivity_report(request: HttpRequest) -> HttpResponse:
    """Agents ranked by connectivity lapses (system set them Unavailable) over a date range."""
    org = request.user.org
    context: dict[str, Any] = {
        "tz_name": org.time_zone,
        "errors": [],
        "values": {
            "start": request.GET.get("start", "")[:10],
            "end": request.GET.get("end", "")[:10],
        },
    }
    try:
        start, end = date_range(
            request.GET, today=_today(org), default_days=7, max_days=reports.MAX_DAYS
        )
    except RangeError as problem:
        context["errors"] = sorted(problem.errors.items())
        return render(request, "worksession/connectivity.html", context, status=400)
    days, agents = reports.connectivity_lapses(org_id=org.pk, tz=org.tz, start=start, end=end)
    peak = max((count for agent in agents for count in agent.per_day), default=0)

    def rows_url(agent_id: int, first: date, last: date) -> str:
        return (
            AUDIT_LOG_URL
            + "?"
            + urlencode(
                {
                    "start": first.isoformat(),
                    "end": last.isoformat(),
                    "event_type": "work_session",
                    "agent": agent_id,
                    "actor_type": "system",
                    "property": "status",
                }
            )
        )

    ranked = [
        {
            "rank": rank,
            "agent": agent,
            "rows_url": rows_url(agent.agent_id, start, end),
            "timeline_url": reverse("work_timeline", args=[agent.agent_id])
            + "?"
            + urlencode({"start": start.isoformat(), "end": end.isoformat()})
            if (end - start).days < timeline.MAX_DAYS
            else reverse("work_timeline", args=[agent.agent_id]),
            "cells": [
                {
                    "day": day,
                    "count": count,
                    "level": 0 if not count else min(4, 1 + (count * 3) // max(peak, 1)),
                    "url": rows_url(agent.agent_id, day, day) if count else None,
                    "timeline_url": reverse("work_timeline", args=[agent.agent_id])
                    + "?"
                    + urlencode({"start": day.isoformat()}),
                }
                for day, count in zip(days, agent.per_day, strict=True)
            ],
        }
        for rank, agent in enumerate(agents, start=1)
    ]
    context |= {
        "start": start,
        "end": end,
        "values": {"start": start.isoformat(), "end": end.isoformat()},
        "days": days,
        "ranked": ranked,
        "total": sum(agent.total for agent in agents),
        "all_rows_url": AUDIT_LOG_URL
        + "?"
        + urlencode(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "event_type": "work_session",
                "actor_type": "system",
                "property": "status",
            }
        ),
    }
    return render(request, "worksession/connectivity.html", context)


# Team Pulse -------------------------------------------------------------------------------------


@org_permission_required("routing.manage")
def team_pulse(request: HttpRequest) -> HttpResponse:
    """Every agent's status, load and capacity now; the page refreshes itself from pulse.json."""
    pulse = reports.team_pulse()
    now = clock.now()
    return render(
        request,
        "worksession/pulse.html",
        {
            "pulse": pulse,
            "rows": [p.as_json(now) for p in pulse],
            "summary": reports.pulse_summary(pulse),
            "interval_ms": PULSE_INTERVAL_SECONDS * 1000,
            "interval_seconds": PULSE_INTERVAL_SECONDS,
            "generated_at": now,
        },
    )


@org_permission_required("routing.manage")
def team_pulse_json(request: HttpRequest) -> JsonResponse:
    pulse = reports.team_pulse()
    now = clock.now()
    response = JsonResponse(
        {
            "generated_at": now.isoformat(),
            "summary": reports.pulse_summary(pulse),
            "agents": [p.as_json(now) for p in pulse],
        }
    )
    response["Cache-Control"] = "no-store"
    return response
