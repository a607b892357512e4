"""Reports read from the audit record: connectivity lapses per agent and day, and Team Pulse's live state.

A connectivity lapse is a work-session status row Available -> Unavailable performed by
`system` (the article's "minor lapse in internet connectivity": the heartbeat stopped).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate

from accounts.models import User
from auditlog.models import AuditEvent
from conversations.models import Conversation
from insights.timeline import day_range
from worksession.models import AVAILABLE, DEFAULT_CAPACITY, UNAVAILABLE, AgentStatus

MAX_DAYS = 92


@dataclass(slots=True)
class AgentLapses:
    agent_id: int
    name: str
    total: int
    per_day: list[int]
    exists: bool  # the agent still exists (their timeline has a name to show)


def lapse_rows(org_id: int, start: datetime, end: datetime) -> Any:
    """System-performed Available -> Unavailable status rows in [start, end).

    Served by the (org, actor_type, actor_id, occurred_at) index: system rows have no actor id.
    """
    return AuditEvent.objects.for_org(org_id).filter(
        actor_type="system",
        actor_id__isnull=True,
        occurred_at__gte=start,
        occurred_at__lt=end,
        event_type="work_session",
        section="Work Session",
        action="update",
        property="status",
        before="Available",
        after="Unavailable",
    )


def connectivity_lapses(
    *, org_id: int, tz: Any, start: date, end: date
) -> tuple[list[date], list[AgentLapses]]:
    """The days of the range and the agents with lapses in it, most lapses first."""
    first, last = day_range(start, end, tz)
    counts = (
        lapse_rows(org_id, first, last)
        .order_by()
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values("subject_id", "day")
        .annotate(n=Count("id"), name=Max("subject_name"))
    )
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    agents: dict[int, AgentLapses] = {}
    for row in counts:
        if not (row["subject_id"] or "").isdigit():
            continue
        agent_id = int(row["subject_id"])
        entry = agents.setdefault(
            agent_id,
            AgentLapses(agent_id, row["name"] or f"User #{agent_id}", 0, [0] * len(days), False),
        )
        if row["day"] in index:
            entry.per_day[index[row["day"]]] += row["n"]
            entry.total += row["n"]
    for user in User.objects.filter(pk__in=list(agents)):
        agents[user.pk].name = str(user)
        agents[user.pk].exists = True
    ranked = sorted(
        agents.values(), key=lambda entry: (-entry.total, entry.name.casefold(), entry.agent_id)
    )
    return days, ranked


# Team Pulse ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pulse:
    agent_id: int
    name: str
    status: str
    signed_in: bool
    session_started_at: datetime | None
    last_heartbeat_at: datetime | None
    load: int
    capacity: int

    @property
    def over_capacity(self) -> bool:
        return self.load > self.capacity

    @property
    def state(self) -> str:
        """One word for the row: available, unavailable or signed_out."""
        if not self.signed_in:
            return "signed_out"
        return "available" if self.status == AVAILABLE else "unavailable"

    def as_json(self, now: datetime) -> dict[str, Any]:
        heartbeat_age = (
            max(0, int((now - self.last_heartbeat_at).total_seconds()))
            if self.last_heartbeat_at
            else None
        )
        return {
            "id": self.agent_id,
            "name": self.name,
            "status": self.status,
            "state": self.state,
            "signed_in": self.signed_in,
            "session_started_at": self.session_started_at.isoformat()
            if self.session_started_at
            else None,
            "last_heartbeat_at": self.last_heartbeat_at.isoformat()
            if self.last_heartbeat_at
            else None,
            "heartbeat_age_seconds": heartbeat_age,
            "load": self.load,
            "capacity": self.capacity,
            "over_capacity": self.over_capacity,
        }


def team_pulse() -> list[Pulse]:
    """Every active agent of the current organisation (whoever may work conversations), now.

    Two queries: the agents with their open-conversation count, and their routing states.
    """
    agents = (
        User.objects.filter(
            is_active=True, role_group__permissions__contains=["conversations.work"]
        )
        .annotate(
            open_load=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__status=Conversation.OPEN),
            )
        )
        .order_by("name", "email")
    )
    states = {state.pk: state for state in AgentStatus.objects.all()}
    pulse = []
    for agent in agents:
        state = states.get(agent.pk)
        pulse.append(
            Pulse(
                agent_id=agent.pk,
                name=str(agent),
                status=state.status if state else UNAVAILABLE,
                signed_in=bool(state and state.session_started_at),
                session_started_at=state.session_started_at if state else None,
                last_heartbeat_at=state.last_heartbeat_at if state else None,
                load=agent.open_load,
                capacity=state.capacity if state else DEFAULT_CAPACITY,
            )
        )
    return pulse


def pulse_summary(pulse: list[Pulse]) -> dict[str, int]:
    return {
        "agents": len(pulse),
        "available": sum(1 for p in pulse if p.state == "available"),
        "unavailable": sum(1 for p in pulse if p.state == "unavailable"),
        "signed_out": sum(1 for p in pulse if p.state == "signed_out"),
        "load": sum(p.load for p in pulse),
        "capacity": sum(p.capacity for p in pulse if p.state == "available"),
        "over_capacity": sum(1 for p in pulse if p.over_capacity),
    }
