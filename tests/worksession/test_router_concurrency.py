"""Concurrent queue-router runs, through a real Celery worker over real Redis, never double-assign."""

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections, transaction

from config.celery import app
from conversations import services as conversations
from conversations.models import Conversation
from core.tenancy import tenant
from tests.conftest import audit_rows, make_org
from tests.worksession.conftest import make_agent
from worksession import routing
from worksession.tasks import route_queued_conversations

RUNS = 4


def routing_setup(name: str, email: str):
    org = make_org(name, email)
    with tenant(org):
        agents = [
            make_agent(f"{n}@{org.slug}.test", f"{n.title()} Agent", capacity=2, available=True)
            for n in ("alice", "bob", "cara")
        ]
        customer = conversations.customer_create(name="Grace Hopper")
        waiting = [
            conversations.conversation_create(customer=customer, subject=f"Question {n}")
            for n in range(10)
        ]
    return org, agents, waiting


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_router_runs_assign_each_conversation_once_and_respect_capacity():
    org, agents, waiting = routing_setup("Routing Co", "admin@routing.test")
    finished = threading.Semaphore(0)

    def count_finished(sender=None, **kwargs):
        if sender is not None and sender.name == route_queued_conversations.name:
            finished.release()

    task_postrun.connect(count_finished, weak=False)
    try:
        app.control.purge()  # nothing left over from other tests in this Redis database
        with start_worker(
            app,
            pool="threads",
            concurrency=RUNS,
            perform_ping_check=False,
            shutdown_timeout=20,
        ):
            for _ in range(RUNS):
                route_queued_conversations.delay(org.pk)
            for _ in range(RUNS):
                assert finished.acquire(timeout=60), "router runs did not finish"
    finally:
        task_postrun.disconnect(count_finished)

    with tenant(org):
        assigned = list(
            Conversation.objects.filter(assigned_to__isnull=False).values_list(
                "pk", "assigned_to_id"
            )
        )
        rows = audit_rows(org, section="Work Session", action="assign")
    assert len(assigned) == 6
    assert sorted(pk for pk, _ in assigned) == sorted(c.pk for c in waiting[:6])
    assert {agent.pk: sum(1 for _, a in assigned if a == agent.pk) for agent in agents} == {
        agent.pk: 2 for agent in agents
    }
    # One assign row per conversation, none over capacity, all by the router.
    assert sorted(row["after"]["id"] for row in rows) == sorted(pk for pk, _ in assigned)
    assert all(not row["metadata"]["over_capacity"] for row in rows)
    assert {row["actor_type"] for row in rows} == {"queue_router"}


@pytest.mark.django_db(transaction=True)
def test_router_skips_a_conversation_someone_else_holds_instead_of_waiting():
    org, agents, waiting = routing_setup("Locking Co", "admin@locking.test")
    held, release = threading.Event(), threading.Event()

    def hold_first_conversation():
        try:
            with tenant(org), transaction.atomic():
                Conversation.objects.select_for_update().get(pk=waiting[0].pk)
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_first_conversation)
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        assignments = routing.route_queued_conversations(org_id=org.pk)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)
    assert elapsed < 5, "the router waited for a locked row instead of skipping it"
    assert waiting[0].pk not in {a.conversation_id for a in assignments}
    assert [a.conversation_id for a in assignments] == [c.pk for c in waiting[1:7]]
