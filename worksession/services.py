"""Every write to an agent's routing state, each recorded as a Work Session event.

Status, capacity and session start/end are explicit events (auditlog.recorder.record) rather
than tracked saves: they carry metadata a plain diff cannot, such as why a status changed
(a heartbeat lapse) or how long a session lasted. Assignment rows are written here too,
whoever assigned (a person, a business rule, the queue router), with the agent's load.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import User
from auditlog.recorder import record
from conversations.models import Conversation
from core import clock, context
from core.context import Actor
from worksession.models import AVAILABLE, STATUSES, UNAVAILABLE, AgentStatus

SECTION = "Work Session"
MAX_CAPACITY = 100
LAPSE_ACTOR = Actor.system("System")


class WorkSessionError(ValueError):
    """A request the agent's state does not allow (unknown status, bad capacity)."""


def _name(user: User) -> str:
    return user.name or user.email


def agent_status_for(user: User, *, lock: bool = False) -> AgentStatus:
    """The agent's state row, created on first use (its creation is not itself an event)."""
    rows = AgentStatus.objects.select_for_update() if lock else AgentStatus.objects
    status = rows.filter(pk=user.pk).first()
    if status is None:
        status, _ = AgentStatus.objects.get_or_create(
            user_id=user.pk, defaults={"org_id": user.org_id}
        )
        if lock:
            status = rows.get(pk=user.pk)
    return status


def agent_load(user_id: int) -> int:
    """How many open conversations the agent has: what capacity is measured against."""
    return Conversation.objects.filter(assigned_to_id=user_id, status=Conversation.OPEN).count()


def agent_status_set(
    *,
    user: User,
    status: str,
    metadata: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AgentStatus:
    """Available or Unavailable; going Available counts as a sign of life for the heartbeat."""
    if status not in STATUSES:
        raise WorkSessionError(f"Status must be one of {', '.join(STATUSES)}, not {status!r}.")
    with transaction.atomic():
        state = agent_status_for(user, lock=True)
        if status == AVAILABLE:
            state.last_heartbeat_at = clock.now()
        if state.status == status:
            if status == AVAILABLE:
                state.save(update_fields=["last_heartbeat_at"])
            return state
        before, state.status = state.status, status
        state.save(update_fields=["status", "last_heartbeat_at"])
        record(
            section=SECTION,
            action="update",
            subject_id=user.pk,
            subject_name=_name(user),
            property="status",
            before=before,
            after=status,
            metadata=metadata,
            actor=actor,
        )
    return state


def agent_capacity_set(*, user: User, capacity: int) -> AgentStatus:
    if (
        isinstance(capacity, bool)
        or not isinstance(capacity, int)
        or not 0 <= capacity <= MAX_CAPACITY
    ):
        raise WorkSessionError(f"Capacity must be a whole number from 0 to {MAX_CAPACITY}.")
    with transaction.atomic():
        state = agent_status_for(user, lock=True)
        if state.capacity == capacity:
            return state
        before, state.capacity = state.capacity, capacity
        state.save(update_fields=["capacity"])
        load = agent_load(user.pk)
        record(
            section=SECTION,
            action="update",
            subject_id=user.pk,
            subject_name=_name(user),
            property="capacity",
            before=before,
            after=capacity,
            metadata={"load": load, "over_capacity": load > capacity},
        )
    return state


def work_session_start(*, user: User, reason: str = "login") -> AgentStatus:
    """Open the agent's work session unless one is open already (a second tab or device)."""
    with transaction.atomic():
        state = agent_status_for(user, lock=True)
        if state.session_started_at is not None:
            return state
        state.session_started_at = clock.now()
        state.save(update_fields=["session_started_at"])
        record(
            section=SECTION,
            action="session_start",
            subject_id=user.pk,
            subject_name=_name(user),
            metadata={"reason": reason},
        )
    return state


def work_session_end(
    *, user: User, reason: str = "logout", actor: Actor | None = None, extra: dict | None = None
) -> AgentStatus:
    """Close the session; an Available agent goes Unavailable first so nothing is routed to them."""
    with transaction.atomic():
        state = agent_status_for(user, lock=True)
        if state.session_started_at is None:
            return state
        if state.status == AVAILABLE:
            agent_status_set(
                user=user,
                status=UNAVAILABLE,
                actor=actor,
                metadata={"reason": reason, **(extra or {})},
            )
        started, ended = state.session_started_at, clock.now()
        state.session_started_at = None
        state.save(update_fields=["session_started_at"])
        record(
            section=SECTION,
            action="session_end",
            subject_id=user.pk,
            subject_name=_name(user),
            actor=actor,
            metadata={
                "reason": reason,
                "started_at": started.isoformat(),
                "duration_seconds": max(0, int((ended - started).total_seconds())),
                **(extra or {}),
            },
        )
    return state


@dataclass(frozen=True)
class Heartbeat:
    status: str
    capacity: int
    load: int


def heartbeat(*, user: User) -> Heartbeat:
    """The workspace page is open and connected. Resumes a session that lapsed meanwhile."""
    with transaction.atomic():
        state = agent_status_for(user, lock=True)
        state.last_heartbeat_at = clock.now()
        state.save(update_fields=["last_heartbeat_at"])
        if state.session_started_at is None:
            state = work_session_start(user=user, reason="heartbeat")
    return Heartbeat(status=state.status, capacity=state.capacity, load=agent_load(user.pk))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def heartbeat_lapses_detect(*, org_id: int) -> list[int]:
    """Connectivity lapse: Available agents silent past the grace period go Unavailable (system).

    Rows are locked and skipped when busy, so concurrent runs (or the agent's own toggle)
    never produce two rows for one lapse. Returns the ids of the agents set Unavailable.
    """
    from accounts.models import Organization

    org = Organization.objects.get(pk=org_id)
    lapsed: list[int] = []
    with context.use(org_id=org_id, actor=LAPSE_ACTOR), transaction.atomic():
        deadline = clock.now() - timedelta(seconds=org.heartbeat_grace_seconds)
        candidates = (
            AgentStatus.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(status=AVAILABLE)
            .exclude(last_heartbeat_at__gte=deadline)
            .order_by("pk")
        )
        for state in candidates:
            agent_status_set(
                user=state.user,
                status=UNAVAILABLE,
                metadata={
                    "reason": "heartbeat_lapse",
                    "last_heartbeat_at": _iso(state.last_heartbeat_at),
                    "grace_seconds": org.heartbeat_grace_seconds,
                },
            )
            lapsed.append(state.pk)
    return lapsed


def work_sessions_expire(*, org_id: int) -> list[int]:
    """End sessions with no sign of life (login or heartbeat) for WORK_SESSION_TIMEOUT_SECONDS."""
    ended: list[int] = []
    timeout = timedelta(seconds=settings.WORK_SESSION_TIMEOUT_SECONDS)
    with context.use(org_id=org_id, actor=LAPSE_ACTOR), transaction.atomic():
        deadline = clock.now() - timeout
        open_sessions = (
            AgentStatus.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user")
            .filter(session_started_at__lt=deadline)
            .exclude(last_heartbeat_at__gte=deadline)
            .order_by("pk")
        )
        for state in open_sessions:
            work_session_end(
                user=state.user,
                reason="lapse",
                extra={"last_heartbeat_at": _iso(state.last_heartbeat_at)},
            )
            ended.append(state.pk)
    return ended


# Assignment ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    before: int
    after: int
    capacity: int

    @property
    def over_capacity(self) -> bool:
        return self.after > self.capacity

    def as_metadata(self) -> dict[str, Any]:
        return {
            "load_before": self.before,
            "load_after": self.after,
            "capacity": self.capacity,
            "over_capacity": self.over_capacity,
        }


def _others_load(user_id: int, conversation: Conversation) -> int:
    """The agent's open conversations other than this one."""
    queryset = Conversation.objects.filter(assigned_to_id=user_id, status=Conversation.OPEN)
    if conversation.pk is not None:
        queryset = queryset.exclude(pk=conversation.pk)
    return queryset.count()


def load_if_assigned(*, user: User, conversation: Conversation) -> Load:
    """The agent's load before and after taking this conversation (in its current status)."""
    others = _others_load(user.pk, conversation)
    capacity = agent_status_for(user).capacity
    return Load(others, others + (conversation.status == Conversation.OPEN), capacity)


def _conversation_ref(conversation: Conversation) -> dict[str, Any]:
    return {"id": conversation.pk, "subject": conversation.subject}


def assignment_changed(
    *,
    conversation: Conversation,
    previous_assignee_id: int | None,
    previous_status: str,
    deleted: bool = False,
) -> None:
    """Record unassign (previous agent) and assign (new agent) rows with both agents' load.

    Called, through conversations.hooks.assignment_changed, right after the save that changed
    `assigned_to` (or before the conversation is deleted), in the same transaction and with
    the same actor.
    """
    new_assignee_id = None if deleted else conversation.assigned_to_id
    if previous_assignee_id == new_assignee_id:
        return
    ref = _conversation_ref(conversation)
    if previous_assignee_id is not None:
        previous = User.all_tenants.get(pk=previous_assignee_id)
        others = _others_load(previous.pk, conversation)
        load = Load(
            others + (previous_status == Conversation.OPEN),
            others,
            agent_status_for(previous).capacity,
        )
        record(
            section=SECTION,
            action="unassign",
            subject_id=previous.pk,
            subject_name=_name(previous),
            property="conversation",
            before=ref,
            after=None,
            metadata=load.as_metadata(),
        )
    if new_assignee_id is not None:
        assignee = conversation.assigned_to
        load = load_if_assigned(user=assignee, conversation=conversation)
        record(
            section=SECTION,
            action="assign",
            subject_id=assignee.pk,
            subject_name=_name(assignee),
            property="conversation",
            before=None,
            after=ref,
            metadata=load.as_metadata(),
        )
