"""An agent's work-session timeline for a day or range, rebuilt from the audit record alone.

Status bands come from the agent's session start/end and status rows; load comes from the
`assign`/`unassign` rows' metadata (load_after, exact at each assignment) plus the status
rows of the conversations the agent held in between (closing one lowers the load);
capacity from the capacity rows. The state at the start of the range is the last row
before it, or, where the log shows no earlier row, the `before` of the first row after it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from typing import Any

from django.db.models import Q

from auditlog.models import AuditEvent
from worksession.models import AVAILABLE, DEFAULT_CAPACITY, UNAVAILABLE, AgentStatus

SECTION = "Work Session"
OPEN = "open"
LOGGED_OUT, AVAILABLE_BAND, UNAVAILABLE_BAND = "logged_out", "available", "unavailable"
BAND_LABELS = {
    AVAILABLE_BAND: "Available",
    UNAVAILABLE_BAND: "Unavailable",
    LOGGED_OUT: "Logged out",
}
MAX_DAYS = 31


@dataclass(frozen=True, slots=True)
class Band:
    start: datetime
    end: datetime
    state: str

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Step:
    """A step function's value from `at` until the next step."""

    at: datetime
    value: int


@dataclass(frozen=True, slots=True)
class Marker:
    at: datetime
    kind: str  # "assign", "unassign" or "lapse"
    event: AuditEvent
    conversation_id: int | None = None
    conversation: str = ""
    load_before: int | None = None
    load_after: int | None = None
    capacity: int | None = None
    over_capacity: bool = False

    @property
    def crossed(self) -> bool:
        """This assignment took the agent over capacity (they were at or under it before)."""
        return (
            self.kind == "assign"
            and self.over_capacity
            and self.load_before is not None
            and self.capacity is not None
            and self.load_before <= self.capacity
        )


@dataclass(frozen=True, slots=True)
class Totals:
    logged_in: timedelta
    available: timedelta
    handled: int  # distinct conversations assigned in the range
    assignments: int
    over_capacity: int  # assignments that left the agent over capacity
    lapses: int


@dataclass(slots=True)
class Timeline:
    agent_id: int
    agent_name: str
    start: datetime
    end: datetime
    drawn_until: datetime  # the end, or now when the range reaches into the future
    bands: list[Band]
    load: list[Step]
    capacity: list[Step]
    markers: list[Marker]
    totals: Totals
    events: list[AuditEvent] = field(default_factory=list)  # the range's rows, oldest first


def day_range(start: date, end: date, tz: Any) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the organisation's zone, as UTC instants."""
    first = datetime.combine(start, time.min, tz).astimezone(UTC)
    last = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
    return first, last


def _conversation_of(event: AuditEvent) -> tuple[int | None, str]:
    ref = event.after if event.action == "assign" else event.before
    if isinstance(ref, dict) and isinstance(ref.get("id"), int):
        return ref["id"], str(ref.get("subject") or "")
    return None, ""


def _metadata_int(event: AuditEvent, key: str) -> int | None:
    value = (event.metadata or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ordered(rows: Iterable[AuditEvent]) -> list[AuditEvent]:
    return sorted(rows, key=lambda event: (event.occurred_at, event.pk))


def _edge_value(
    rows: Any,
    start: datetime,
    *,
    after: Callable[[AuditEvent], Any],
    before: Callable[[AuditEvent], Any],
) -> tuple[bool, Any]:
    """(found, value) at `start`: the last row before it (its after), else the first row at
    or after it (its before)."""
    last = rows.filter(occurred_at__lt=start).order_by("-occurred_at", "-id").first()
    if last is not None:
        return True, after(last)
    first = rows.filter(occurred_at__gte=start).order_by("occurred_at", "id").first()
    if first is not None:
        return True, before(first)
    return False, None


def build(
    *, org_id: int, agent_id: int, agent_name: str, start: datetime, end: datetime, now: datetime
) -> Timeline:
    """The agent's timeline over [start, end) (UTC instants), drawn up to `now` at the latest."""
    rows = AuditEvent.objects.for_org(org_id).filter(
        subject_type="user", subject_id=str(agent_id), section=SECTION
    )
    drawn_until = max(start, min(end, now))
    state_now = AgentStatus.objects.filter(pk=agent_id).first()

    found, status = _edge_value(
        rows.filter(property="status"), start, after=lambda e: e.after, before=lambda e: e.before
    )
    if not found:
        status = state_now.status if state_now else UNAVAILABLE
    found, session_open = _edge_value(
        rows.filter(action__in=("session_start", "session_end")),
        start,
        after=lambda e: e.action == "session_start",
        before=lambda e: e.action == "session_end",
    )
    if not found:
        session_open = bool(
            state_now and state_now.session_started_at and state_now.session_started_at < start
        )
    found, capacity = _edge_value(
        rows.filter(property="capacity"), start, after=lambda e: e.after, before=lambda e: e.before
    )
    if not found or not isinstance(capacity, int):
        capacity = state_now.capacity if state_now else DEFAULT_CAPACITY

    window = list(
        rows.filter(occurred_at__gte=start, occurred_at__lt=end).order_by("occurred_at", "id")
    )

    # Load: replay assignments before the range for the conversations held at its start.
    earlier = list(
        rows.filter(action__in=("assign", "unassign"), occurred_at__lt=start)
        .only("occurred_at", "action", "before", "after", "metadata")
        .order_by("occurred_at", "id")
    )
    held: set[int] = set()
    for event in earlier:
        conversation_id, _ = _conversation_of(event)
        if event.action == "assign" and conversation_id is not None:
            held.add(conversation_id)
        elif conversation_id is not None:
            held.discard(conversation_id)
    last_meta = earlier[-1] if earlier else None
    load = (_metadata_int(last_meta, "load_after") or 0) if last_meta else 0
    assignment_rows = [e for e in window if e.action in ("assign", "unassign")]
    relevant = held | {
        c for c in (_conversation_of(e)[0] for e in assignment_rows) if c is not None
    }
    closes_since = last_meta.occurred_at if last_meta else start
    conversation_rows = (
        list(
            AuditEvent.objects.for_org(org_id)
            .filter(
                subject_type="conversation",
                subject_id__in=[str(pk) for pk in sorted(relevant)],
                section="Conversation",
                property="status",
                occurred_at__gte=closes_since,
                occurred_at__lt=end,
            )
            .only("occurred_at", "subject_id", "before", "after")
            .order_by("occurred_at", "id")
        )
        if relevant
        else []
    )
    if last_meta is not None:
        # Rows at the very instant of the last assignment before the range came before it.
        conversation_rows = [
            e
            for e in conversation_rows
            if (e.occurred_at, e.pk) > (last_meta.occurred_at, last_meta.pk)
        ]

    stream = _ordered([*window, *conversation_rows])
    bands: list[Band] = []
    load_steps = [Step(start, 0)]
    capacity_steps = [Step(start, capacity)]
    markers: list[Marker] = []
    band_start = start
    band_state = _band(session_open, status)

    def set_load(at: datetime, value: int) -> None:
        value = max(0, value)
        if at < start:
            load_steps[0] = Step(start, value)
        elif load_steps[-1].value != value:
            load_steps.append(Step(at, value))

    def set_band(at: datetime) -> None:
        nonlocal band_start, band_state
        state = _band(session_open, status)
        if state != band_state:
            if at > band_start:
                bands.append(Band(band_start, min(at, drawn_until), band_state))
            band_start, band_state = at, state

    set_load(start - timedelta(microseconds=1), load)
    for event in stream:
        at = event.occurred_at
        if event.section == "Conversation":
            conversation_id = int(event.subject_id) if (event.subject_id or "").isdigit() else None
            if conversation_id in held:
                load += (event.after == OPEN) - (event.before == OPEN)
                set_load(at, load)
            continue
        if event.action in ("assign", "unassign"):
            conversation_id, subject = _conversation_of(event)
            if conversation_id is not None:
                (held.add if event.action == "assign" else held.discard)(conversation_id)
            after = _metadata_int(event, "load_after")
            if after is not None:
                load = after
                set_load(at, load)
            markers.append(
                Marker(
                    at,
                    event.action,
                    event,
                    conversation_id,
                    subject,
                    _metadata_int(event, "load_before"),
                    after,
                    _metadata_int(event, "capacity"),
                    bool((event.metadata or {}).get("over_capacity")),
                )
            )
        elif event.action in ("session_start", "session_end"):
            session_open = event.action == "session_start"
            set_band(at)
        elif event.property == "status":
            status = event.after
            set_band(at)
            if (
                event.actor_type == "system"
                and (event.metadata or {}).get("reason") == "heartbeat_lapse"
            ):
                markers.append(Marker(at, "lapse", event))
        elif event.property == "capacity" and isinstance(event.after, int):
            if capacity_steps[-1].value != event.after:
                capacity_steps.append(Step(at, event.after))
    if drawn_until > band_start:
        bands.append(Band(band_start, drawn_until, band_state))

    assigns = [m for m in markers if m.kind == "assign"]
    totals = Totals(
        logged_in=sum((b.duration for b in bands if b.state != LOGGED_OUT), timedelta()),
        available=sum((b.duration for b in bands if b.state == AVAILABLE_BAND), timedelta()),
        handled=len({m.conversation_id for m in assigns if m.conversation_id is not None}),
        assignments=len(assigns),
        over_capacity=sum(1 for m in assigns if m.over_capacity),
        lapses=sum(1 for m in markers if m.kind == "lapse"),
    )
    return Timeline(
        agent_id=agent_id,
        agent_name=agent_name,
        start=start,
        end=end,
        drawn_until=drawn_until,
        bands=bands,
        load=load_steps,
        capacity=capacity_steps,
        markers=markers,
        totals=totals,
        events=window,
    )


def _band(session_open: bool, status: Any) -> str:
    if not session_open:
        return LOGGED_OUT
    return AVAILABLE_BAND if status == AVAILABLE else UNAVAILABLE_BAND


def has_rows_about(org_id: int, agent_id: int) -> bool:
    """Whether this organisation's log has work-session rows about this agent (a deleted one)."""
    return (
        AuditEvent.objects.for_org(org_id)
        .filter(
            Q(section=SECTION) | Q(section="User"), subject_type="user", subject_id=str(agent_id)
        )
        .exists()
    )


def duration_text(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


# The chart --------------------------------------------------------------------------------

WIDTH, HEIGHT = 960, 318
LEFT, RIGHT = 92, 18
STATUS_TOP, STATUS_HEIGHT = 30, 26
CHART_TOP, CHART_BOTTOM = 84, 230
AXIS_LABEL_Y = 248
LEGEND_Y = 282
LEGEND_LINE = 22

BAND_COLOURS = {AVAILABLE_BAND: "#2f9e62", UNAVAILABLE_BAND: "#e0a43a", LOGGED_OUT: "#cbd2d9"}


def _ticks(start: datetime, end: datetime, tz: Any) -> list[tuple[datetime, str, bool]]:
    """(instant, label, major) for the axis: hours across a day or two, days beyond."""
    hours = (end - start).total_seconds() / 3600
    local = start.astimezone(tz)
    ticks = []
    if hours <= 50:
        step_label = 3 if hours <= 26 else 6
        moment = local.replace(minute=0, second=0, microsecond=0)
        while moment.astimezone(UTC) < end:
            at = moment.astimezone(UTC)
            if at >= start:
                major = moment.hour % step_label == 0
                label = f"{moment:%H:%M}" if major else ""
                if major and moment.hour == 0 and hours > 26:
                    label = f"{moment:%a} {moment.day}"
                ticks.append((at, label, major))
            moment = (moment.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)
        return ticks
    days = hours / 24
    every = 1 if days <= 10 else 2 if days <= 20 else 4
    day = local.date()
    n = 0
    while True:
        at = datetime.combine(day, time.min, tz).astimezone(UTC)
        if at >= end:
            break
        if at >= start:
            ticks.append((at, f"{day:%a} {day.day}" if n % every == 0 else "", n % every == 0))
            n += 1
        day += timedelta(days=1)
    return ticks


def render_svg(timeline: Timeline, tz: Any, row_link: Callable[[AuditEvent], str]) -> str:
    """The timeline as an inline SVG: status lane, load against capacity, markers, axis, legend."""
    span = (timeline.end - timeline.start).total_seconds() or 1.0
    plot = WIDTH - LEFT - RIGHT

    def x(at: datetime) -> float:
        return LEFT + max(0.0, min(1.0, (at - timeline.start).total_seconds() / span)) * plot

    peak = max([1, *(s.value for s in timeline.load), *(s.value for s in timeline.capacity)])
    top_value = peak + 1

    def y(value: float) -> float:
        return CHART_BOTTOM - value / top_value * (CHART_BOTTOM - CHART_TOP)

    title_id = f"timeline-title-{timeline.agent_id}"
    desc_id = f"timeline-desc-{timeline.agent_id}"
    t = timeline.totals
    description = (
        f"Logged in {duration_text(t.logged_in)}, Available {duration_text(t.available)}, "
        f"{t.handled} conversation{'s' if t.handled != 1 else ''} handled, "
        f"{t.over_capacity} assignment{'s' if t.over_capacity != 1 else ''} over capacity, "
        f"{t.lapses} connectivity lapse{'s' if t.lapses != 1 else ''}."
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        # A group, not an image: its markers are links, which an image may not contain.
        f'width="100%" role="group" aria-labelledby="{title_id}" aria-describedby="{desc_id}">',
        f'<title id="{title_id}">Work-session timeline of {escape(timeline.agent_name)}</title>',
        f'<desc id="{desc_id}">{escape(description)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text class="lane" x="8" y="{STATUS_TOP + STATUS_HEIGHT / 2 + 4}">Status</text>',
        f'<text class="lane" x="8" y="{(CHART_TOP + CHART_BOTTOM) / 2 + 4}">Load</text>',
    ]
    # Status lane: the whole drawn span first as logged out, then each band.
    out.append(
        f'<rect x="{LEFT}" y="{STATUS_TOP}" width="{plot}" height="{STATUS_HEIGHT}" fill="#f5f7fa" stroke="#d9e2ec"/>'
    )
    for band in timeline.bands:
        x1, x2 = x(band.start), x(band.end)
        label = (
            f"{BAND_LABELS[band.state]}: {band.start.astimezone(tz):%H:%M}–"
            f"{band.end.astimezone(tz):%H:%M} ({duration_text(band.duration)})"
        )
        out.append(
            f'<rect class="band band-{band.state}" data-state="{band.state}" x="{x1:.1f}" y="{STATUS_TOP}" '
            f'width="{max(x2 - x1, 0.5):.1f}" height="{STATUS_HEIGHT}" fill="{BAND_COLOURS[band.state]}">'
            f"<title>{escape(label)}</title></rect>"
        )
    # Grid and axis.
    for value in range(0, top_value + 1):
        if top_value > 12 and value % 2:
            continue
        gy = y(value)
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot}" y1="{gy:.1f}" y2="{gy:.1f}" stroke="#eef2f6"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{value}</text>'
        )
    for at, label, major in _ticks(timeline.start, timeline.end, tz):
        tx = x(at)
        out.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{CHART_BOTTOM}" y2="{CHART_BOTTOM + (6 if major else 3)}" stroke="#9aa5b1"/>'
        )
        if label:
            out.append(
                f'<text class="tick" x="{tx:.1f}" y="{AXIS_LABEL_Y}" text-anchor="middle">{escape(label)}</text>'
            )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot}" y1="{CHART_BOTTOM}" y2="{CHART_BOTTOM}" stroke="#9aa5b1"/>'
    )

    # Load and capacity as step lines up to the drawn end; over-capacity stretches shaded.
    def steps_until(steps: list[Step]) -> list[tuple[datetime, datetime, int]]:
        spans = []
        for index, step in enumerate(steps):
            until = steps[index + 1].at if index + 1 < len(steps) else timeline.drawn_until
            until = min(until, timeline.drawn_until)
            if until > step.at or (index + 1 == len(steps) and until >= step.at):
                spans.append((step.at, until, step.value))
        return spans

    load_spans = steps_until(timeline.load)
    capacity_spans = steps_until(timeline.capacity)

    def capacity_at(at: datetime) -> int:
        value = timeline.capacity[0].value
        for step in timeline.capacity:
            if step.at <= at:
                value = step.value
        return value

    for begin, until, value in load_spans:
        cuts = sorted({begin, until, *(s.at for s in timeline.capacity if begin < s.at < until)})
        for a, b in zip(cuts, cuts[1:], strict=False):
            limit = capacity_at(a)
            if value > limit:
                out.append(
                    f'<rect class="over-area" x="{x(a):.1f}" y="{y(value):.1f}" width="{max(x(b) - x(a), 0.5):.1f}" '
                    f'height="{y(limit) - y(value):.1f}" fill="#b42318" fill-opacity="0.16"/>'
                )

    def path(spans: list[tuple[datetime, datetime, int]]) -> str:
        points: list[str] = []
        for begin, until, value in spans:
            points.append(f"{'M' if not points else 'L'}{x(begin):.1f},{y(value):.1f}")
            points.append(f"L{x(until):.1f},{y(value):.1f}")
        return " ".join(points)

    # Capacity over load, so it stays visible (dashed) where the two are equal.
    if load_spans:
        out.append(
            f'<path class="load-line" d="{path(load_spans)}" fill="none" stroke="#1d4ed8" stroke-width="2.5">'
            f"<title>Open conversations (load)</title></path>"
        )
    if capacity_spans:
        out.append(
            f'<path class="capacity-line" d="{path(capacity_spans)}" fill="none" stroke="#52606d" '
            f'stroke-width="1.5" stroke-dasharray="6 4"><title>Capacity</title></path>'
        )
    if timeline.drawn_until < timeline.end:
        nx = x(timeline.drawn_until)
        out.append(
            f'<line class="now" x1="{nx:.1f}" x2="{nx:.1f}" y1="{STATUS_TOP - 6}" y2="{CHART_BOTTOM}" '
            f'stroke="#1f2933" stroke-dasharray="2 3"/><text class="tick" x="{nx + 4:.1f}" y="{STATUS_TOP - 8}">now</text>'
        )

    # Markers, each a link to its row in the audit log.
    for marker in timeline.markers:
        mx = x(marker.at)
        when = f"{marker.at.astimezone(tz):%H:%M:%S}"
        href = escape(row_link(marker.event))
        if marker.kind == "lapse":
            last = (marker.event.metadata or {}).get("last_heartbeat_at")
            text = f"{when} Connectivity lapse: set Unavailable by System (heartbeat lapsed"
            text += f", last heartbeat {last})" if last else ")"
            out.append(
                f'<a href="{href}" class="marker marker-lapse" data-kind="lapse" data-event-id="{marker.event.pk}">'
                f"<title>{escape(text)}</title>"
                f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{STATUS_TOP}" y2="{CHART_BOTTOM}" stroke="#b42318" stroke-dasharray="3 3"/>'
                f'<path d="M{mx:.1f},{STATUS_TOP - 2} l-6,-10 h12 z" fill="#b42318"/></a>'
            )
            continue
        value = marker.load_after if marker.load_after is not None else 0
        my = y(value)
        verb = "Assigned" if marker.kind == "assign" else "Unassigned"
        text = f"{when} {verb} “{marker.conversation}”"
        if marker.load_before is not None and marker.load_after is not None:
            text += f": load {marker.load_before} → {marker.load_after} of {marker.capacity}"
        if marker.crossed:
            text += " — took the agent over capacity"
        elif marker.over_capacity and marker.kind == "assign":
            text += " — over capacity"
        classes = (
            f"marker marker-{marker.kind}"
            + (" over" if marker.over_capacity else "")
            + (" crossed" if marker.crossed else "")
        )
        if marker.kind == "assign":
            radius = 7 if marker.crossed else 5
            fill = "#b42318" if marker.over_capacity else "#1d4ed8"
            shape = f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="{radius}" fill="{fill}" stroke="#ffffff" stroke-width="1.5"/>'
            if marker.crossed:
                shape = (
                    f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="11" fill="none" stroke="#b42318" stroke-width="2"/>'
                    + shape
                    + f'<text class="callout" x="{mx + 14:.1f}" y="{my - 8:.1f}">over capacity</text>'
                )
        else:
            shape = f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="5" fill="#ffffff" stroke="#52606d" stroke-width="2"/>'
        crossed = ' data-crossed="true"' if marker.crossed else ""
        out.append(
            f'<a href="{href}" class="{classes}" data-kind="{marker.kind}" '
            f'data-event-id="{marker.event.pk}"{crossed}><title>{escape(text)}</title>{shape}</a>'
        )

    # Legend.
    legend = [
        ("rect", BAND_COLOURS[AVAILABLE_BAND], "Available"),
        ("rect", BAND_COLOURS[UNAVAILABLE_BAND], "Unavailable"),
        ("rect", BAND_COLOURS[LOGGED_OUT], "Logged out"),
        ("line", "#1d4ed8", "Load"),
        ("dash", "#52606d", "Capacity"),
        ("dot", "#1d4ed8", "Assignment"),
        ("ring", "#b42318", "Over capacity"),
        ("hollow", "#52606d", "Unassignment"),
        ("lapse", "#b42318", "Connectivity lapse"),
    ]
    lx, ly = LEFT, LEGEND_Y
    for shape, colour, label in legend:
        width = 19 + len(label) * 7 + 14
        if lx + width > WIDTH - RIGHT:
            lx, ly = LEFT, ly + LEGEND_LINE  # wrap to a second line rather than clip
        cy = ly - 4
        if shape == "rect":
            out.append(f'<rect x="{lx}" y="{cy - 6}" width="14" height="12" fill="{colour}"/>')
        elif shape == "line":
            out.append(
                f'<line x1="{lx}" x2="{lx + 14}" y1="{cy}" y2="{cy}" stroke="{colour}" stroke-width="2.5"/>'
            )
        elif shape == "dash":
            out.append(
                f'<line x1="{lx}" x2="{lx + 14}" y1="{cy}" y2="{cy}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            )
        elif shape == "dot":
            out.append(f'<circle cx="{lx + 7}" cy="{cy}" r="5" fill="{colour}"/>')
        elif shape == "ring":
            out.append(
                f'<circle cx="{lx + 7}" cy="{cy}" r="6" fill="none" stroke="{colour}" stroke-width="2"/>'
                f'<circle cx="{lx + 7}" cy="{cy}" r="3" fill="{colour}"/>'
            )
        elif shape == "hollow":
            out.append(
                f'<circle cx="{lx + 7}" cy="{cy}" r="5" fill="#fff" stroke="{colour}" stroke-width="2"/>'
            )
        else:
            out.append(f'<path d="M{lx + 7},{cy + 6} l-6,-11 h12 z" fill="{colour}"/>')
        out.append(f'<text class="legend" x="{lx + 19}" y="{ly}">{label}</text>')
        lx += width
    out.append("</svg>")
    return "".join(out)
