"""Fixtures for work-session tests: agents signed in and Available, built through the services."""

from typing import Any

import pytest

from accounts.models import RoleGroup, User
from accounts.permissions import AGENT
from accounts.services import user_create
from conversations.services import customer_create
from core.context import Actor
from core.tenancy import tenant
from tests.conftest import PASSWORD
from worksession import services


def make_agent(
    email: str, name: str, *, capacity: int | None = None, available: bool = False
) -> User:
    agent = user_create(
        email=email, password=PASSWORD, name=name, role_group=RoleGroup.objects.get(name=AGENT)
    )
    if capacity is not None:
        services.agent_capacity_set(user=agent, capacity=capacity)
    if available:
        go_available(agent)
    return agent


def go_available(agent: User) -> None:
    """What signing in and pressing Available does, as that agent."""
    with tenant(agent.org_id, actor=Actor.for_user(agent)):
        services.work_session_start(user=agent)
        services.agent_status_set(user=agent, status="Available")


@pytest.fixture
def three_available_agents(org: Any) -> list[User]:
    return [
        make_agent(f"{name.lower()}@acme.test", f"{name} Agent", capacity=2, available=True)
        for name in ("Alice", "Bob", "Cara")
    ]


@pytest.fixture
def customer(org: Any) -> Any:
    return customer_create(name="Grace Hopper", email="grace@example.com")
