"""Helpers for the insight tests: simulated time, clients, and reading pages' data attributes."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.test import Client

from accounts.models import RoleGroup
from accounts.permissions import AGENT
from accounts.services import user_create
from core import clock
from core.context import Actor
from core.tenancy import tenant
from tests.conftest import PASSWORD
from worksession import services


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Everything recorded in the block happens at `moment` (core.clock)."""
    with clock.use(lambda: moment):
        yield


def client_for(user: Any) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="pytest-insights/1.0")
    client.force_login(user)
    return client


def attributes(html: str, tag_pattern: str, attribute: str) -> list[str]:
    """Values of `attribute` on the tags whose opening text matches `tag_pattern`."""
    values = []
    for tag in re.findall(r"<[^>]*" + tag_pattern + r"[^>]*>", html):
        found = re.search(rf'\b{attribute}="([^"]*)"', tag)
        if found:
            values.append(found.group(1))
    return values


def make_agent(org: Any, email: str, name: str) -> Any:
    with tenant(org):
        return user_create(
            email=email, password=PASSWORD, name=name, role_group=RoleGroup.objects.get(name=AGENT)
        )


def lapse(org: Any, agent: Any, moment: datetime) -> None:
    """Available at `moment`, then silent past the grace period: the System sets them Unavailable."""
    with at(moment), tenant(org, actor=Actor.for_user(agent)):
        services.work_session_start(user=agent)
        services.agent_status_set(user=agent, status="Available")
    with at(moment + timedelta(seconds=org.heartbeat_grace_seconds + 5)):
        assert agent.pk in services.heartbeat_lapses_detect(org_id=org.pk)
