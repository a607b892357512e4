"""Fixtures for the insight tests: a scripted agent day in the organisation's time zone."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import RoleGroup
from accounts.permissions import AGENT
from accounts.services import user_create
from auditlog.models import AuditEvent
from conversations import services as conversations
from core.context import Actor
from core.tenancy import tenant
from tests.conftest import PASSWORD
from tests.insights.helpers import at
from worksession import services

BERLIN = ZoneInfo("Europe/Berlin")


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), BERLIN).astimezone(UTC)


@pytest.fixture
def berlin(org: Any) -> date:
    """The organisation works in Berlin's time; today's date there."""
    org.time_zone = "Europe/Berlin"
    org.save()
    return timezone.now().astimezone(BERLIN).date()


@pytest.fixture
def day(berlin: date) -> date:
    return berlin - timedelta(days=3)


@pytest.fixture
def scripted_day(org: Any, admin: Any, day: date) -> dict[str, Any]:
    """Ann's day: capacity 2, login 08:00, Available 08:05, four assignments (the third takes
    her over capacity, the fourth keeps her over), one unassigned, one closed, a connectivity
    lapse at 12:01:40, Available again 12:30, Unavailable 16:00, logout 16:05."""
    with tenant(org):
        ann = user_create(
            email="ann@acme.test",
            password=PASSWORD,
            name="Ann Agent",
            role_group=RoleGroup.objects.get(name=AGENT),
        )

    def as_admin() -> Any:
        return tenant(org, actor=Actor.for_user(admin))

    def as_ann() -> Any:
        return tenant(org, actor=Actor.for_user(ann))

    events: dict[str, Any] = {}
    with at(local(day, 7)), as_admin():
        services.agent_capacity_set(user=ann, capacity=2)
        customer = conversations.customer_create(name="Grace", email="grace@example.com")
        convs = [
            conversations.conversation_create(customer=customer, subject=f"Question {n}")
            for n in range(1, 5)
        ]
    with at(local(day, 8)), as_ann():
        services.work_session_start(user=ann, reason="login")
    with at(local(day, 8, 5)), as_ann():
        services.agent_status_set(user=ann, status="Available")
    for (hh, mm), conversation, over in zip(
        [(9, 0), (9, 30), (10, 0), (10, 15)], convs, [False, False, True, True], strict=True
    ):
        with at(local(day, hh, mm)), as_admin():
            conversations.conversation_assign(
                conversation=conversation, assignee=ann, allow_over_capacity=over
            )
    with at(local(day, 11)), as_admin():
        conversations.conversation_assign(conversation=convs[3], assignee=None)
    with at(local(day, 11, 30)), as_ann():
        conversations.conversation_update(conversation=convs[2], status="done")
    with at(local(day, 12)), as_ann():
        services.heartbeat(user=ann)
    with at(local(day, 12, 1, 40)):
        assert services.heartbeat_lapses_detect(org_id=org.pk) == [ann.pk]
    with at(local(day, 12, 30)), as_ann():
        services.agent_status_set(user=ann, status="Available")
    with at(local(day, 16)), as_ann():
        services.agent_status_set(user=ann, status="Unavailable")
    with at(local(day, 16, 5)), as_ann():
        services.work_session_end(user=ann, reason="logout")
    rows = AuditEvent.objects.for_org(org.pk).filter(subject_type="user", subject_id=str(ann.pk))
    events["assigns"] = list(rows.filter(action="assign").order_by("occurred_at"))
    events["unassign"] = rows.get(action="unassign")
    events["lapse"] = rows.get(actor_type="system", property="status")
    return {"ann": ann, "convs": convs, "events": events}
