"""Shared fixtures: organisations built through the real services, and audit-row helpers."""

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from django.test import Client

from accounts.models import Organization, User
from auditlog.models import AuditEvent
from core.tenancy import tenant
from tests.factories import PASSWORD, OrganizationFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

__all__ = ["PASSWORD", "make_org"]


def make_org(name: str, admin_email: str) -> Organization:
    return OrganizationFactory(name=name, admin_email=admin_email)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Transactional tests may reach the owner's login too (its jobs, and `flush` between
    tests, which empties the append-only tables as the owner): give them both aliases."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        fixtures = set(getattr(item, "fixturenames", ()))
        transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
            fixtures & {"transactional_db", "live_server"}
        )
        if not transactional:
            continue
        kwargs = dict(marker.kwargs) if marker else {}
        databases = kwargs.get("databases")
        if databases == "__all__":
            continue
        kwargs["databases"] = sorted({"default", "owner", *(databases or ())})
        kwargs["transaction"] = True
        item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture
def org(db: Any) -> Iterator[Organization]:
    organisation = make_org("Acme", "admin@acme.test")
    with tenant(organisation):
        yield organisation


@pytest.fixture
def other_org(db: Any) -> Organization:
    return make_org("Globex", "admin@globex.test")


@pytest.fixture
def admin(org: Organization) -> User:
    return User.objects.get(email="admin@acme.test")


@pytest.fixture
def agent(org: Organization) -> User:
    return UserFactory(email="agent@acme.test", name="Ann Agent")


@pytest.fixture
def admin_client(admin: User) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="pytest-browser/1.0")
    client.force_login(admin)
    return client


def audit_rows(org: Organization | int, **filters: Any) -> list[dict[str, Any]]:
    """The organisation's audit rows, oldest first, as dicts of the fields tests compare."""
    org_id = org if isinstance(org, int) else org.pk
    # Row-level security shows an organisation's rows only within its own context.
    with tenant(org_id):
        return _rows_of(org_id, **filters)


def _rows_of(org_id: int, **filters: Any) -> list[dict[str, Any]]:
    return list(
        AuditEvent.objects.for_org(org_id)
        .filter(**filters)
        .order_by("occurred_at", "id")
        .values(
            "event_type",
            "action",
            "section",
            "property",
            "before",
            "after",
            "actor_type",
            "actor_id",
            "actor_name",
            "subject_type",
            "subject_id",
            "subject_name",
            "ip_address",
            "user_agent",
            "change_id",
            "metadata",
            "request_id",
        )
    )


def count_tenant_audit_rows(**filters: Any) -> int:
    """Every organisation's audit rows, counted as the application's login may: one
    organisation at a time (row-level security), in the test's own transaction."""
    total = 0
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        with tenant(org_id):
            total += AuditEvent.objects.filter(org_id=org_id, **filters).count()
    return total


def superuser_connection() -> Any:
    """A database superuser on the test database (DATABASE_ADMIN_URL, as devservices uses):
    the attacker of SPEC §8.1's second line, who can rewrite anything in the database."""
    import psycopg
    from django.db import connection

    admin = urlsplit(os.environ.get("DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/"))
    return psycopg.connect(
        host=admin.hostname or "127.0.0.1",
        port=admin.port or 5432,
        user=unquote(admin.username or "postgres"),
        password=unquote(admin.password) if admin.password else None,
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    )


def compact(rows: list[dict[str, Any]], *fields: str) -> list[tuple]:
    fields = fields or (
        "action",
        "section",
        "property",
        "before",
        "after",
        "actor_type",
        "actor_name",
    )
    return [tuple(row[field] for field in fields) for row in rows]


@pytest.fixture(autouse=True)
def _digest_files_of_this_test(settings: Any, tmp_path: Any) -> None:
    # Signed digest files are per database; each test's database starts empty, so do they.
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Real hashing is PBKDF2 with many iterations; tests only need a real hash, not a slow one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
