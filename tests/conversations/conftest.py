"""Fixtures for the conversation tests: customers, agents and API tokens built through services."""

from typing import Any

import pytest
from django.test import Client

from accounts.models import RoleGroup, User
from accounts.permissions import AGENT
from accounts.services import api_token_create, user_create
from conversations import services
from conversations.models import Customer
from tests.conftest import PASSWORD


@pytest.fixture
def customer(org: Any) -> Customer:
    return services.customer_create(
        name="Grace Hopper", email="grace@example.com", phone="+44 20 7946 0000", tags=["vip"]
    )


@pytest.fixture
def agent_client(agent: User) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.20", HTTP_USER_AGENT="pytest-agent/1.0")
    client.force_login(agent)
    return client


@pytest.fixture
def make_agent(org: Any):
    def make(email: str, name: str) -> User:
        return user_create(
            email=email,
            password=PASSWORD,
            name=name,
            role_group=RoleGroup.objects.get(name=AGENT),
        )

    return make


def token_client(org: Any, name: str = "Helpdesk sync", scopes: list[str] | None = None) -> Client:
    _, secret = api_token_create(name=name, scopes=scopes)
    return Client(
        REMOTE_ADDR="192.0.2.50",
        HTTP_USER_AGENT="sync-bot/2.0",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
