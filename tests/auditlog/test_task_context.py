"""A change made in a Celery task, run by a real worker over real Redis, carries the context it was sent with."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from accounts.models import RoleGroup, User
from accounts.services import role_group_update
from config.celery import app
from core import context
from core.context import Actor
from core.tenancy import tenant
from tests.conftest import audit_rows, make_org


@app.task(name="tests.rename_role_group")
def rename_role_group(group_id: int, name: str) -> None:
    # No tenant() here: the organisation and actor arrive with the task.
    role_group_update(group=RoleGroup.objects.get(pk=group_id), name=name)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_task_changes_carry_the_senders_context():
    org = make_org("Tasks Inc", "admin@tasks.test")
    with tenant(org):
        admin = User.objects.get(email="admin@tasks.test")
        group = RoleGroup.objects.get(name="Agent")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        sent = context.AuditContext(
            org_id=org.pk,
            actor=Actor.for_user(admin),
            ip_address="192.0.2.10",
            user_agent="Browser/1.0",
            request_id="req-from-page",
        )
        with context.use(sent):
            rename_role_group.delay(group.pk, "Support agents")
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and RoleGroup.all_tenants.get(pk=group.pk).name != "Support agents"
        ):
            time.sleep(0.1)
    assert RoleGroup.all_tenants.get(pk=group.pk).name == "Support agents"
    with tenant(org):
        (row,) = audit_rows(org, section="Role Group", action="update")
    assert (row["actor_type"], row["actor_id"], row["actor_name"]) == (
        "user",
        str(admin.pk),
        "Tasks Inc Admin",
    )
    assert (row["ip_address"], row["user_agent"], row["request_id"]) == (
        "192.0.2.10",
        "Browser/1.0",
        "req-from-page",
    )
    assert (row["before"], row["after"]) == ("Agent", "Support agents")
