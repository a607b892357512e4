"""Shared set-up for the audit API and export tests: a realistic log made through the real paths."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

from accounts.models import ApiToken, Organization, RoleGroup, User
from accounts.permissions import AGENT
from accounts.services import api_token_create, organization_create, user_create, user_update
from auditlog.models import AuditEvent
from auditlog.recorder import record
from core import context
from core.context import Actor
from core.tenancy import tenant
from tests.conftest import PASSWORD

AGENT_IP = "198.51.100.7"
ADMIN_IP = "203.0.113.5"
TRICKY_NAME = 'Open, "urgent"\nÄrger über Zoë – 東京'


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def get_json(client: Client, url: str, params: dict | None = None) -> tuple[int, Any]:
    parts = urlsplit(url)
    if parts.query:
        response = client.get(f"{parts.path}?{parts.query}")
    else:
        response = client.get(parts.path, params or {})
    return response.status_code, response.json()


def list_ids(client: Client, params: dict[str, Any]) -> list[str]:
    """Every event id the API lists for these filters, following `next` to the end."""
    status, body = get_json(client, "/api/v1/audit-events/", {**params, "page_size": 500})
    assert status == 200, body
    ids = [event["id"] for event in body["results"]]
    while body["next"]:
        status, body = get_json(client, body["next"])
        assert status == 200, body
        ids += [event["id"] for event in body["results"]]
    return ids


def events_of(org: Organization) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_org(org.pk))


def newest_first_ids(events: list[AuditEvent]) -> list[str]:
    return [str(e.pk) for e in sorted(events, key=lambda e: (e.occurred_at, e.pk), reverse=True)]


def search_blob(event: AuditEvent) -> str:
    """What `q` searches, as the test's own independent reading of SPEC 5."""
    values = [
        json.dumps(v, ensure_ascii=False) for v in (event.before, event.after) if v is not None
    ]
    return " ".join([event.subject_name, event.actor_name, *values]).casefold()


@dataclass
class World:
    org: Organization
    admin: User
    agent: User
    token: ApiToken
    secret: str
    other_org: Organization
    other_admin: User
    other_secret: str

    def events(self) -> list[AuditEvent]:
        return events_of(self.org)

    def admin_client(self) -> Client:
        client = Client(REMOTE_ADDR=ADMIN_IP)
        client.force_login(self.admin)
        return client

    def other_admin_client(self) -> Client:
        client = Client()
        client.force_login(self.other_admin)
        return client


def build_world() -> World:
    """An organisation in Berlin time with events of every type, made by the real services
    (users, tokens) and the recorder (explicit events at chosen times), plus a second
    organisation with look-alike events that must never show up."""
    org = organization_create(
        name="Zone",
        admin_email="admin@zone.test",
        admin_password=PASSWORD,
        time_zone="Europe/Berlin",
    )
    other = organization_create(
        name="Globex", admin_email="admin@globex.test", admin_password=PASSWORD
    )
    with tenant(other):
        other_admin = User.objects.get(email="admin@globex.test")
        _, other_secret = api_token_create(name="Globex token")
        with context.use(actor=Actor.for_user(other_admin), ip_address=AGENT_IP):
            record(
                section="Search",
                action="create",
                subject_id=11,
                subject_name=TRICKY_NAME,
                property="name",
                after="Globex Ärger",
                occurred_at=at("2025-03-02T10:00:00"),
            )
            record(
                section="Session",
                action="login",
                subject_id=other_admin.pk,
                subject_name="Globex Admin",
                occurred_at=at("2025-03-01T22:30:00"),
            )

    with tenant(org):
        admin = User.objects.get(email="admin@zone.test")
        agent = user_create(
            email="bob@zone.test",
            password=PASSWORD,
            name="Bob Agent",
            role_group=RoleGroup.objects.get(name=AGENT),
        )
        with context.use(actor=Actor.for_user(admin), ip_address=ADMIN_IP):
            user_update(user=agent, name="Robert Agent", phone="+49 30 1234")
            token, secret = api_token_create(name="Zapier", created_by=admin)
        agent_actor = Actor.for_user(agent)
        admin_actor = Actor.for_user(admin)
        with context.use(actor=agent_actor, ip_address=AGENT_IP, user_agent="Firefox/1"):
            record(
                section="Session",
                action="login",
                subject_id=agent.pk,
                subject_name="Robert Agent",
                occurred_at=at("2025-03-01T22:30:00"),  # 23:30 on 1 March in Berlin
            )
            record(
                section="Session",
                action="logout",
                subject_id=agent.pk,
                subject_name="Robert Agent",
                occurred_at=at("2025-03-01T23:30:00"),  # 00:30 on 2 March in Berlin
            )
            record(
                section="Work Session",
                action="session_start",
                subject_id=agent.pk,
                subject_name="Robert Agent",
                occurred_at=at("2025-03-05T08:00:00"),
            )
        with context.use(actor=admin_actor, ip_address=ADMIN_IP):
            record(
                section="Search",
                action="create",
                subject_id=11,
                subject_name=TRICKY_NAME,
                changes=[
                    ("name", None, TRICKY_NAME),
                    ("criteria", None, {"all": [{"field": "tags", "op": "has", "value": "vip"}]}),
                ],
                occurred_at=at("2025-03-02T10:00:00"),
            )
            record(
                section="Customer",
                action="update",
                subject_id=7,
                subject_name="Carla Customer",
                property="email",
                before="carla@old.test",
                after="carla@new.test",
                occurred_at=at("2025-03-07T09:00:00"),
            )
            record(
                section="Plan",
                action="update",
                subject_id=org.pk,
                subject_name="Zone",
                property="plan",
                before="Growth",
                after="Enterprise",
                occurred_at=at("2025-03-08T09:00:00"),
            )
            record(
                section="Support Access",
                action="create",
                subject_id=14,
                subject_name="Support access",
                property="enabled",
                after=True,
                occurred_at=at("2025-03-09T09:00:00"),
            )
        record(
            section="Shortcut",
            action="update",
            subject_id=12,
            subject_name="Greeting",
            property="text",
            before="Hi",
            after="Hello, 100% sure",
            actor=Actor("workflow", "2", "Close idle conversations"),
            occurred_at=at("2025-03-03T09:00:00"),
        )
        record(
            section="Business Rule",
            action="update",
            subject_id=13,
            subject_name="VIP routing",
            property="enabled",
            before=True,
            after=False,
            actor=Actor("business_rule", "13", "VIP routing"),
            occurred_at=at("2025-03-04T09:00:00"),
        )
        record(
            section="Work Session",
            action="update",
            subject_id=agent.pk,
            subject_name="Robert Agent",
            property="status",
            before="Available",
            after="Unavailable",
            metadata={"reason": "heartbeat_lapse"},
            actor=Actor.system(),
            occurred_at=at("2025-03-05T12:00:00"),
        )
        record(
            section="Conversation",
            action="update",
            subject_id=42,
            subject_name="Printer on fire",
            property="priority",
            before="normal",
            after="urgent",
            actor=Actor("api", str(token.pk), "Zapier"),
            occurred_at=at("2025-03-06T09:00:00"),
        )
        record(
            section="Work Session",
            action="assign",
            subject_id=agent.pk,
            subject_name="Robert Agent",
            property="conversation",
            after="Printer on fire",
            metadata={"load_before": 2, "load_after": 3, "capacity": 2, "over_capacity": True},
            actor=Actor("queue_router", None, "Queue router"),
            occurred_at=at(
                "2025-03-06T09:00:00"
            ),  # same instant as the API change: id breaks the tie
        )
    return World(
        org=org,
        admin=admin,
        agent=agent,
        token=token,
        secret=secret,
        other_org=other,
        other_admin=other_admin,
        other_secret=other_secret,
    )
