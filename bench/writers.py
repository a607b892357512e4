"""Writer processes for the ingest and load benchmarks: audited changes made through the services.

Each writer is its own process (spawned, so each has its own Django and database connection)
and changes its own customers and conversations of a bench organisation with
`customer_update` / `conversation_update`, one property per change, inside a full request
context (user, IP, user agent, a fresh request id), exactly as a page or API call would.
Unaudited writers run the same code with the recorder's save handlers disconnected, so the
difference between the two is the cost of the audit record alone.
"""

import multiprocessing as mp
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench._common import ROOT

CUSTOMERS_PER_WRITER = 40
CONVERSATIONS_PER_WRITER = 40
WRITER_ORGS = 4  # writers spread over the largest bench organisations
REQUEST_ID_PREFIX = "bench-writer-"


def writer_org_slug(index: int) -> str:
    return f"bench-org-{index % WRITER_ORGS + 1:03d}"


def prepare(writers: int, first_index: int = 0) -> None:
    """Create (once) each writer's customers and conversations, through the services.

    Runs in a process where Django is set up on the bench database. Writers numbered from
    `first_index` (the unaudited pool has its own objects, so neither changes the other's).
    """
    from accounts.models import Organization, User
    from conversations import services
    from conversations.models import Conversation, Customer
    from core.context import Actor
    from core.tenancy import tenant

    for index in range(first_index, first_index + writers):
        org = Organization.objects.get(slug=writer_org_slug(index))
        with tenant(org):
            admin = User.objects.order_by("pk").first()
        with tenant(org, actor=Actor.for_user(admin)):
            prefix = f"Writer {index} "
            have = Customer.objects.filter(name__startswith=prefix).count()
            for k in range(have, CUSTOMERS_PER_WRITER):
                customer = services.customer_create(
                    name=f"{prefix}customer {k}", email=f"w{index}c{k}@writers.test"
                )
                if k < CONVERSATIONS_PER_WRITER:
                    services.conversation_create(
                        customer=customer, subject=f"{prefix}conversation {k}"
                    )
            assert Conversation.objects.filter(subject__startswith=prefix).count() >= min(
                CUSTOMERS_PER_WRITER, CONVERSATIONS_PER_WRITER
            )


@dataclass
class WriterPool:
    """N writer processes that run while `go` is set, with per-writer counters.

    Started once (spawning and warming up 8 Django processes takes a while on 2 cores), then
    run for as many measured windows as wanted: `measure()` or `go.set()`/`go.clear()`.
    """

    urls: dict[str, str]  # DATABASE_URL (the application's login) and DATABASE_OWNER_URL
    writers: int = 8
    audited: bool = True
    rate: float | None = None  # changes per second per writer; None: as fast as it can
    first_index: int = 0  # writer numbers (and so objects) used: first_index, first_index + 1…
    processes: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        ctx = mp.get_context("spawn")
        self._ctx = ctx
        self.ready = ctx.Semaphore(0)
        self.go = ctx.Event()
        self.stop_event = ctx.Event()
        self.changes = ctx.Array("q", self.writers, lock=False)
        self.errors = ctx.Array("q", self.writers, lock=False)

    def start(self, timeout: float = 300) -> None:
        """Start the processes and wait until each is warmed up and waiting for `go`."""
        for slot in range(self.writers):
            process = self._ctx.Process(
                target=writer_main,
                args=(
                    slot,
                    self.first_index + slot,
                    self.urls,
                    self.audited,
                    self.rate,
                    self.ready,
                    self.go,
                    self.stop_event,
                    self.changes,
                    self.errors,
                ),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
        deadline = time.monotonic() + timeout
        for _ in range(self.writers):
            if not self.ready.acquire(timeout=max(1, deadline - time.monotonic())):
                self.terminate()
                raise SystemExit("writer processes did not get ready")

    def counts(self) -> tuple[int, int]:
        """(changes, errors) so far, over all writers."""
        return sum(self.changes), sum(self.errors)

    def measure(self, seconds: float, settle: float = 1.5) -> dict[str, float]:
        """Run the writers; count changes over `seconds` after `settle` seconds of running."""
        self.go.set()
        time.sleep(settle)
        changes0, errors0 = self.counts()
        started = time.perf_counter()
        time.sleep(seconds)
        changes1, errors1 = self.counts()
        elapsed = time.perf_counter() - started
        self.go.clear()
        time.sleep(0.3)  # let in-flight changes finish before anyone else measures
        return {
            "changes": changes1 - changes0,
            "errors": errors1 - errors0,
            "seconds": elapsed,
            "changes_per_s": (changes1 - changes0) / elapsed,
        }

    def finish(self) -> None:
        self.stop_event.set()
        self.go.set()  # wake idle writers so they see the stop
        for process in self.processes:
            process.join(timeout=30)
        self.terminate()

    def terminate(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def _disconnect_recorder() -> None:
    """The same saves without their audit rows: the recorder's handlers, disconnected."""
    from django.db.models.signals import post_delete, post_save

    from auditlog import recorder

    for model in list(recorder._registry):
        label = model._meta.label
        post_save.disconnect(recorder._on_save, sender=model, dispatch_uid=f"audit-save-{label}")
        post_delete.disconnect(
            recorder._on_delete, sender=model, dispatch_uid=f"audit-delete-{label}"
        )


def writer_main(
    slot: int,
    index: int,
    urls: dict[str, str],
    audited: bool,
    rate: float | None,
    ready: Any,
    go: Any,
    stop: Any,
    changes: Any,
    errors: Any,
) -> None:
    sys.path.insert(0, str(ROOT))
    # The application's login writes (as the web processes do); the owner's is configured
    # for the bench database too, so nothing falls back to the default database.
    os.environ.update(urls)
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from accounts.models import Organization, User
    from conversations import services
    from conversations.models import Conversation, Customer
    from core import context
    from core.context import Actor, AuditContext
    from core.tenancy import tenant

    org = Organization.objects.get(slug=writer_org_slug(index))
    prefix = f"Writer {index} "
    with tenant(org):
        admin = User.objects.order_by("pk").first()
        customers = list(Customer.objects.filter(name__startswith=prefix).order_by("pk"))
        conversations = list(Conversation.objects.filter(subject__startswith=prefix).order_by("pk"))
    base = AuditContext(
        org_id=org.pk,
        actor=Actor.for_user(admin),
        ip_address=f"198.51.100.{10 + index % 200}",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) bench-writer/1.0",
        request_id=None,
    )
    if not audited:
        _disconnect_recorder()
    tag = uuid.uuid4().hex[:6]
    statuses = (Conversation.OPEN, Conversation.DONE)
    priorities = ("normal", "high", "urgent", "low")
    queues = ("General", "Billing", "Priority")

    def change(n: int) -> None:
        # One property per change; every change really differs from the stored value.
        request = context.use(base, request_id=f"{REQUEST_ID_PREFIX}{tag}-{n}")
        with request:
            if n % 2 == 0:
                customer = customers[(n // 2) % len(customers)]
                step = (n // 2) // len(customers)
                which = step % 3
                if which == 0:
                    services.customer_update(customer=customer, name=f"{prefix}customer {tag} {n}")
                elif which == 1:
                    # The run's tag keeps values from repeating an earlier run's (no-op saves).
                    services.customer_update(customer=customer, phone=f"+1 555 {tag} {n}")
                else:
                    services.customer_update(customer=customer, tags=["vip", f"t{tag}-{n}"])
            else:
                conversation = conversations[(n // 2) % len(conversations)]
                step = (n // 2) // len(conversations)
                which = step % 3
                if which == 0:
                    wanted = (
                        statuses[(statuses.index(conversation.status) + 1) % 2]
                        if (conversation.status in statuses)
                        else Conversation.OPEN
                    )
                    services.conversation_update(conversation=conversation, status=wanted)
                elif which == 1:
                    current = conversation.priority
                    wanted = (
                        priorities[(priorities.index(current) + 1) % 4]
                        if (current in priorities)
                        else "normal"
                    )
                    services.conversation_update(conversation=conversation, priority=wanted)
                else:
                    wanted = (
                        queues[(queues.index(conversation.queue) + 1) % 3]
                        if (conversation.queue in queues)
                        else "General"
                    )
                    services.conversation_update(conversation=conversation, queue=wanted)

    with tenant(org, actor=base.actor):
        for n in range(20):  # warm up: connection, prepared statements, caches
            change(n)
        ready.release()
        n = 20
        while True:
            go.wait()
            if stop.is_set():
                break
            resumed, done = time.perf_counter(), 0
            while go.is_set() and not stop.is_set():
                try:
                    change(n)
                    changes[slot] += 1
                except Exception:  # noqa: BLE001 - counted and reported, the run goes on
                    errors[slot] += 1
                    connection.close()
                    time.sleep(0.05)
                n += 1
                done += 1
                if rate:
                    # Paced: the k-th change is due k / rate seconds after resuming.
                    delay = done / rate - (time.perf_counter() - resumed)
                    if delay > 0:
                        time.sleep(min(delay, 1.0))
    connection.close()
