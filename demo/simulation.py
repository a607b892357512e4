"""The demo organisation's history: a month of a support team, replayed through the real services.

Time is simulated: `core.clock` is pointed at the simulation's clock, so every audit row
and every domain timestamp (conversation activity, heartbeats, sessions) lands on the
simulated moment. People act with the context the middleware would give them (actor, IP,
user agent, request id); automations (business rules, queue router, connectivity lapses,
the close workflow) run exactly as in production, because they are the same code.
"""

import random
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import hashers
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory, override_settings
from django.utils import timezone

from accounts import services as accounts
from accounts.models import Organization, RoleGroup, User
from accounts.permissions import AGENT
from billing import services as billing
from conversations import services as conversations
from conversations.models import Conversation, Customer
from core import clock, context
from core.context import SYSTEM, Actor, AuditContext
from settings_app import services as settings_app
from worksession import routing
from worksession import services as worksession
from worksession.models import AVAILABLE, UNAVAILABLE

TIME_ZONE = "Europe/London"
TZ = zoneinfo.ZoneInfo(TIME_ZONE)
BACKEND = "accounts.backends.UserBackend"

ADMIN = ("admin@acme.test", "Ada Admin")
AGENTS = [
    ("alex@acme.test", "Alex Morgan"),
    ("sam@acme.test", "Sam Patel"),
    ("jo@acme.test", "Jo Nakamura"),
    ("priya@acme.test", "Priya Shah"),
    ("luis@acme.test", "Luis Ortega"),
    ("mei@acme.test", "Mei Chen"),
    ("tom@acme.test", "Tom Becker"),
    ("amara@acme.test", "Amara Okafor"),
    ("noah@acme.test", "Noah Fischer"),
    ("ines@acme.test", "Inês Costa"),
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
]
FIRST = "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Isabella James Mia Lucas Charlotte Mateo Amelia Ethan Harper Leo Aria Hugo Zoe Omar Lena Ravi Yuki".split()
LAST = "Smith Jones Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Clarke Hughes Green Hall Wood Lewis Khan Murphy Kelly Novak Rossi Silva Dubois Müller".split()
CUSTOMER_TAGS = ["vip", "enterprise", "trial", "newsletter", "churn-risk"]
SUBJECTS = [
    "Refund for order #{n}",
    "Invoice {n} shows the wrong VAT",
    "Charged twice this month",
    "Can't log in after password reset",
    "App is down for our whole team",
    "Outage: checkout returns an error",
    "How do I export my data?",
    "Change the email on my account",
    "Delivery {n} hasn't arrived",
    "Feature request: dark mode",
    "Cancel my subscription",
    "Upgrade to the annual plan",
    "Two-factor codes not arriving",
    "Integration with Slack stopped syncing",
    "Where is my parcel? (order #{n})",
    "Damaged item in order {n}",
]
SHIFT_HOURS = 8


class DemoPasswordHasher(hashers.PBKDF2PasswordHasher):
    """PBKDF2 with few iterations, for the demo's published password only.

    Same algorithm name as Django's, so the first real sign-in re-hashes the password at full
    strength (Django upgrades hashes whose iteration count is below its own).
    """

    iterations = 10_000


def _forget_hashers() -> None:
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()


@contextmanager
def demo_password_hashing() -> Iterator[None]:
    try:
        with override_settings(
            PASSWORD_HASHERS=[f"{__name__}.DemoPasswordHasher", *settings.PASSWORD_HASHERS]
        ):
            _forget_hashers()
            yield
    finally:
        _forget_hashers()


@dataclass
class Person:
    user: User
    ip: str
    user_agent: str
    request: Any = None  # the signed-in browser, for the logout
    connected: bool = False
    forgets_logout: bool = False

    @property
    def actor(self) -> Actor:
        return Actor.for_user(self.user)


@dataclass(order=True)
class Event:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


class DemoHistory:
    """Builds Acme Support and replays `days` days of its life up to now."""

    def __init__(self, *, password: str, days: int = 30, seed: int = 7) -> None:
        self.password = password
        self.days = days
        self.rng = random.Random(seed)
        self.end = timezone.now().replace(microsecond=0)
        first_day = (self.end - timedelta(days=days)).astimezone(TZ).date()
        self.now = datetime.combine(first_day, time(8, 45), TZ)
        self.seq = 0
        self.overloaded = False
        self.queue: list[Event] = []
        self.stalled: set[int] = set()
        self.waiting = 0  # conversations in the queue, as of the last routing pass
        self.people: dict[int, Person] = {}

    # Context helpers -----------------------------------------------------------------------

    def tick(self, minutes: float = 0, seconds: float = 0) -> datetime:
        self.now = self.now + timedelta(minutes=minutes, seconds=seconds)
        return self.now

    @contextmanager
    def as_person(self, person: Person) -> Iterator[None]:
        """What the middleware gives a signed-in person's request."""
        with context.use(
            AuditContext(
                org_id=self.org.pk,
                actor=person.actor,
                ip_address=person.ip,
                user_agent=person.user_agent,
                request_id=uuid.UUID(int=self.rng.getrandbits(128)).hex,
            )
        ):
            yield

    @contextmanager
    def as_api(self, token: Any, ip: str, user_agent: str) -> Iterator[None]:
        """What the token authentication binds for an API call."""
        with context.use(
            AuditContext(
                org_id=self.org.pk,
                actor=Actor("api", str(token.pk), token.name),
                ip_address=ip,
                user_agent=user_agent,
                request_id=uuid.UUID(int=self.rng.getrandbits(128)).hex,
            )
        ):
            yield

    @contextmanager
    def as_system(self) -> Iterator[None]:
        with context.use(AuditContext(org_id=self.org.pk, actor=SYSTEM)):
            yield

    def schedule(self, at: datetime, action: Callable[[], None]) -> None:
        self.seq += 1
        # People and timers do not act on the minute.
        at += timedelta(seconds=self.rng.randint(0, 59))
        self.queue.append(Event(at, self.seq, action))

    def day_at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), TZ)

    # Running -------------------------------------------------------------------------------

    def run(self, progress: Callable[[int], None] | None = None) -> Organization:
        with clock.use(lambda: self.now), demo_password_hashing():
            self.setup()
            if progress:
                progress(1)
            first_day = self.now.date()
            for offset in range(self.days + 1):
                day = first_day + timedelta(days=offset)
                self.plan_day(day, offset)
                self.run_until(min(self.day_at(day + timedelta(days=1), 0), self.end))
                if progress:
                    progress(1)
        return self.org

    def run_until(self, limit: datetime) -> None:
        self.queue.sort()
        while self.queue and self.queue[0].at <= limit:
            event = self.queue.pop(0)
            self.now = max(self.now, event.at)
            event.action()
            self.queue.sort()
        self.queue = [event for event in self.queue if event.at <= self.end]

    # Day 0: the organisation and its settings ----------------------------------------------

    def setup(self) -> None:
        self.org = accounts.organization_create(
            name="Acme Support",
            admin_email=ADMIN[0],
            admin_name=ADMIN[1],
            admin_password=self.password,
            time_zone=TIME_ZONE,
        )
        with self.as_system():
            admin_user = User.objects.get(email=ADMIN[0])
        self.admin = Person(admin_user, "203.0.113.10", USER_AGENTS[1])
        self.tick(minutes=3)
        self.login(self.admin)
        with self.as_person(self.admin):
            self.tick(minutes=4)
            billing.plan_change(plan="team")
            billing.seats_update(full_time_seats=12)
            self.tick(minutes=2)
            agent_group = RoleGroup.objects.get(name=AGENT)
            self.team_lead_group = accounts.role_group_create(
                name="Team Lead", permissions=["conversations.work", "routing.manage"]
            )
            self.agents: list[Person] = []
            for n, (email, name) in enumerate(AGENTS):
                self.tick(minutes=1.5)
                user = accounts.user_create(
                    email=email,
                    name=name,
                    password=self.password,
                    phone=f"+44 20 7946 0{n:03d}",
                    role_group=agent_group,
                )
                office = n < 7  # the rest work from home
                ip = f"203.0.113.{20 + n}" if office else f"198.51.100.{40 + n * 7}"
                person = Person(user, ip, USER_AGENTS[n % len(USER_AGENTS)])
                self.agents.append(person)
                self.people[user.pk] = person
            self.tick(minutes=3)
            accounts.user_update(user=self.agents[1].user, role_group=self.team_lead_group)
            self.tick(minutes=4)
            self.chat_token, _ = accounts.api_token_create(
                name="Web chat widget",
                scopes=["conversations:write", "customers:write"],
                created_by=self.admin.user,
            )
            self.warehouse_token, _ = accounts.api_token_create(
                name="Data warehouse",
                scopes=["audit:read", "audit:export"],
                created_by=self.admin.user,
            )
            self.tick(minutes=5)
            self.create_settings()
            self.tick(minutes=3)
            for person, capacity in ((self.agents[1], 5), (self.agents[0], 4), (self.agents[9], 2)):
                worksession.agent_capacity_set(user=person.user, capacity=capacity)
                self.tick(seconds=20)
            conversations.workflow_settings_update(enabled=True, idle_days=5)
        self.customers = self.create_customers(40)

    def create_settings(self) -> None:
        sam = self.agents[1].user
        self.rules = {
            "vip": settings_app.business_rule_create(
                name="VIP customers are high priority",
                criteria={
                    "match": "all",
                    "conditions": [
                        {"field": "customer_tags", "operator": "contains", "value": "vip"}
                    ],
                },
                actions=[
                    {"type": "set_priority", "value": "high"},
                    {"type": "add_tag", "value": "vip-care"},
                ],
            ),
            "billing": settings_app.business_rule_create(
                name="Billing questions to the Billing queue",
                criteria={
                    "match": "any",
                    "conditions": [
                        {"field": "subject", "operator": "contains", "value": "refund"},
                        {"field": "subject", "operator": "contains", "value": "charged"},
                    ],
                },
                actions=[
                    {"type": "set_queue", "value": "Billing"},
                    {"type": "add_tag", "value": "billing"},
                ],
            ),
            "outage": settings_app.business_rule_create(
                name="Outages are urgent",
                criteria={
                    "match": "any",
                    "conditions": [
                        {"field": "subject", "operator": "contains", "value": "outage"},
                        {"field": "subject", "operator": "contains", "value": "is down"},
                    ],
                },
                actions=[
                    {"type": "set_priority", "value": "urgent"},
                    {"type": "set_queue", "value": "Tier 2"},
                ],
            ),
            "enterprise": settings_app.business_rule_create(
                name="Enterprise accounts go to Sam",
                criteria={
                    "match": "all",
                    "conditions": [
                        {"field": "customer_tags", "operator": "contains", "value": "enterprise"},
                        {"field": "status", "operator": "equals", "value": "open"},
                    ],
                },
                actions=[{"type": "assign_to", "value": sam.pk}],
            ),
        }
        self.tick(minutes=2)
        self.searches = {
            "urgent": settings_app.search_create(
                name="Urgent and open",
                criteria={
                    "match": "all",
                    "conditions": [
                        {"field": "priority", "operator": "equals", "value": "urgent"},
                        {"field": "status", "operator": "equals", "value": "open"},
                    ],
                },
            ),
            "vip": settings_app.search_create(
                name="VIP waiting",
                criteria={
                    "match": "all",
                    "conditions": [
                        {"field": "customer_tags", "operator": "contains", "value": "vip"}
                    ],
                },
                columns=["subject", "customer", "status", "assigned_to"],
            ),
            "billing": settings_app.search_create(
                name="Billing queue",
                criteria={
                    "match": "all",
                    "conditions": [{"field": "queue", "operator": "equals", "value": "Billing"}],
                },
            ),
        }
        self.tick(minutes=2)
        self.shortcuts = {
            name: settings_app.shortcut_create(name=name, text=text, category=category)
            for name, text, category in (
                ("Greeting", "Hi {{customer.first_name}}, thanks for getting in touch!", "General"),
                ("Refund policy", "Refunds reach your card within 5 working days.", "Billing"),
                ("Password reset", "You can reset your password from the sign-in page.", "Account"),
                ("Closing", "Is there anything else I can help you with today?", "General"),
                ("Outage apology", "We're sorry: our engineers are on it right now.", "Incidents"),
            )
        }

    def create_customers(self, count: int) -> list[Customer]:
        created = []
        with self.as_api(self.chat_token, "34.117.59.81", "AcmeChatWidget/3.2"):
            for _ in range(count):
                created.append(self.new_customer())
        return created

    def new_customer(self) -> Customer:
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        tags = self.rng.sample(CUSTOMER_TAGS, k=self.rng.choice((0, 0, 1, 1, 2)))
        return conversations.customer_create(
            name=f"{first} {last}",
            email=f"{first}.{last}{self.rng.randint(1, 999)}@example.com".lower(),
            tags=tags,
        )

    # One day ------------------------------------------------------------------------------

    def plan_day(self, day: date, offset: int) -> None:
        weekend = day.weekday() >= 5
        self.schedule(self.day_at(day, 2, 0), self.nightly_workflow)
        rota = (
            [p for n, p in enumerate(self.agents) if (n + offset) % 5 == 0]
            if weekend
            else self.agents
        )
        for person in rota:
            if person.user.is_active and (weekend or self.rng.random() < 0.9):
                self.plan_shift(person, day, offset)
        if not weekend:
            self.plan_admin_day(day)
        arrivals = self.rng.randint(3, 6) if weekend else self.rng.randint(14, 24)
        for _ in range(arrivals):
            hour = self.rng.choices(
                range(7, 21), weights=[1, 3, 4, 4, 4, 3, 3, 4, 4, 3, 3, 2, 1, 1]
            )[0]
            self.schedule(self.day_at(day, hour, self.rng.randint(0, 59)), self.arrival)
        for day_index, action in self.scripted().items():
            if self.scaled(day_index) == offset:
                self.schedule(self.day_at(day, 11, self.rng.randint(0, 50)), action)

    def scaled(self, day_index: int) -> int:
        """Scripted days are written for a 30-day month; shorter histories keep every one."""
        return min(self.days - 1, round(day_index * self.days / 30))

    def plan_shift(self, person: Person, day: date, offset: int) -> None:
        start = self.day_at(day, self.rng.choice((8, 8, 9, 9, 10)), self.rng.randint(0, 45))
        if offset == 0:
            start = max(start, self.now + timedelta(minutes=20 + self.rng.randint(0, 30)))
        end = start + timedelta(hours=SHIFT_HOURS, minutes=self.rng.randint(-20, 40))
        self.schedule(start, lambda: self.shift_start(person))
        lunch = start + timedelta(hours=4, minutes=self.rng.randint(-30, 30))
        self.schedule(lunch, lambda: self.set_status(person, UNAVAILABLE))
        self.schedule(
            lunch + timedelta(minutes=self.rng.randint(30, 45)),
            lambda: self.back_from_break(person),
        )
        if self.rng.random() < 0.18:
            drop = start + timedelta(minutes=self.rng.randint(30, SHIFT_HOURS * 60 - 30))
            self.schedule(drop, lambda: self.connection_drop(person))
        moment = start + timedelta(minutes=self.rng.randint(20, 50))
        while moment < end:
            self.schedule(moment, lambda: self.work(person))
            moment += timedelta(minutes=self.rng.randint(30, 60))
        if self.rng.random() < 0.06:
            self.schedule(end, lambda: self.walk_away(person))
        else:
            self.schedule(end, lambda: self.shift_end(person))

    def plan_admin_day(self, day: date) -> None:
        start = self.day_at(day, 8, self.rng.randint(40, 59))
        self.schedule(start, lambda: self.login(self.admin))
        if self.rng.random() < 0.45:
            self.schedule(self.day_at(day, 14, self.rng.randint(0, 59)), self.manual_reassign)
        if self.rng.random() < 0.25:
            self.schedule(self.day_at(day, 15, self.rng.randint(0, 59)), self.return_to_queue)
        self.schedule(
            self.day_at(day, 17, self.rng.randint(30, 59)), lambda: self.logout(self.admin)
        )

    # People's actions ----------------------------------------------------------------------

    def login(self, person: Person) -> None:
        if person.request is not None:
            return
        request = RequestFactory().post(
            "/accounts/login/", REMOTE_ADDR=person.ip, HTTP_USER_AGENT=person.user_agent
        )
        request.session = SessionStore()
        # The login request is anonymous until it succeeds, as the middleware would have it.
        with context.use(
            AuditContext(
                ip_address=person.ip,
                user_agent=person.user_agent,
                request_id=uuid.UUID(int=self.rng.getrandbits(128)).hex,
            )
        ):
            auth.login(request, person.user, backend=BACKEND)
        person.request = request
        person.connected = True

    def logout(self, person: Person) -> None:
        if person.request is None:
            return
        request, person.request = person.request, None
        request.user = person.user
        with self.as_person(person):
            auth.logout(request)
        person.connected = False

    def failed_login(self, email: str, ip: str, user_agent: str) -> None:
        request = RequestFactory().post(
            "/accounts/login/", REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent
        )
        request.session = SessionStore()
        with context.use(AuditContext(ip_address=ip, user_agent=user_agent)):
            auth.authenticate(request, username=email, password="wrong-" + uuid.uuid4().hex[:6])

    def shift_start(self, person: Person) -> None:
        if not person.user.is_active:
            return
        if self.rng.random() < 0.04:
            self.failed_login(person.user.email, person.ip, person.user_agent)
            self.tick(seconds=25)
        self.login(person)
        self.tick(minutes=self.rng.randint(1, 4))
        with self.as_person(person):
            worksession.heartbeat(user=person.user)
            worksession.agent_status_set(user=person.user, status=AVAILABLE)
        self.route()

    def shift_end(self, person: Person) -> None:
        self.logout(person)

    def walk_away(self, person: Person) -> None:
        """Closes the laptop without signing out: the connection lapses, then the session."""
        if person.request is None:
            return
        self.last_heartbeat(person)
        person.connected = False
        person.request = None
        grace = self.org.heartbeat_grace_seconds
        self.schedule(
            self.now + timedelta(seconds=grace + self.rng.randint(2, 14)), self.detect_lapses
        )
        timeout = settings.WORK_SESSION_TIMEOUT_SECONDS
        self.schedule(
            self.now + timedelta(seconds=timeout + self.rng.randint(5, 60)), self.detect_lapses
        )

    def set_status(self, person: Person, status: str) -> None:
        if person.request is None or not person.connected:
            return
        with self.as_person(person):
            worksession.agent_status_set(user=person.user, status=status)

    def back_from_break(self, person: Person) -> None:
        self.set_status(person, AVAILABLE)
        self.route()

    def connection_drop(self, person: Person) -> None:
        if person.request is None or not person.connected:
            return
        self.last_heartbeat(person)
        person.connected = False
        grace = self.org.heartbeat_grace_seconds
        self.schedule(
            self.now + timedelta(seconds=grace + self.rng.randint(2, 14)), self.detect_lapses
        )
        self.schedule(
            self.now + timedelta(minutes=self.rng.randint(3, 12)), lambda: self.reconnect(person)
        )

    def last_heartbeat(self, person: Person) -> None:
        with self.as_person(person):
            worksession.heartbeat(user=person.user)

    def reconnect(self, person: Person) -> None:
        if person.request is None:
            return
        person.connected = True
        with self.as_person(person):
            worksession.heartbeat(user=person.user)
            worksession.agent_status_set(user=person.user, status=AVAILABLE)
        self.route()

    def work(self, person: Person) -> None:
        """The agent handles one of their open conversations."""
        if person.request is None or not person.connected:
            return
        with self.as_person(person):
            mine = list(
                Conversation.objects.filter(assigned_to=person.user, status=Conversation.OPEN)
                .exclude(pk__in=self.stalled)
                .select_related("customer")
                .order_by("last_activity_at", "pk")[:3]
            )
            if not mine:
                return
            conversation = self.rng.choice(mine)
            roll = self.rng.random()
            if roll < 0.72:
                conversations.conversation_update(
                    conversation=conversation, status=Conversation.DONE
                )
            elif roll < 0.82:
                wake = self.now + timedelta(hours=self.rng.choice((4, 20, 44, 68)))
                conversations.conversation_update(
                    conversation=conversation, status=Conversation.SNOOZED, snoozed_until=wake
                )
            elif roll < 0.90:
                conversations.conversation_update(
                    conversation=conversation,
                    tags=[
                        *conversation.tags,
                        self.rng.choice(["follow-up", "bug", "how-to", "feedback"]),
                    ],
                )
            elif roll < 0.95:
                conversations.conversation_update(
                    conversation=conversation, priority=self.rng.choice(["low", "high"])
                )
            elif roll < 0.985:
                customer = conversation.customer
                conversations.customer_update(
                    customer=customer, phone=f"+44 7700 9{self.rng.randint(10000, 99999)}"
                )
            else:
                conversations.conversation_delete(conversation=conversation)
        self.route()

    def arrival(self) -> None:
        """A customer writes in: mostly through the chat widget (API), sometimes by phone."""
        on_shift = [p for p in self.agents if p.request is not None and p.connected]
        subject = self.rng.choice(SUBJECTS).format(n=self.rng.randint(1000, 9999))
        if on_shift and self.rng.random() < 0.25:
            person = self.rng.choice(on_shift)
            with self.as_person(person):
                customer = self.rng.choice(self.customers)
                try:
                    conversation = conversations.conversation_create(
                        customer=customer, subject=subject, tags=["phone"], assigned_to=person.user
                    )
                except conversations.ConversationError:
                    conversation = conversations.conversation_create(
                        customer=customer, subject=subject, tags=["phone"]
                    )
        else:
            with self.as_api(self.chat_token, "34.117.59.81", "AcmeChatWidget/3.2"):
                if self.rng.random() < 0.3:
                    customer = self.new_customer()
                    self.customers.append(customer)
                else:
                    customer = self.rng.choice(self.customers)
                conversation = conversations.conversation_create(
                    customer=customer, subject=subject, tags=["chat"]
                )
        if self.rng.random() < 0.08:
            self.stalled.add(conversation.pk)
        if conversation.assigned_to_id is None:
            self.waiting += 1
        self.route()

    def route(self) -> None:
        # The product's router runs every few seconds; here it runs when it could do something.
        if self.waiting <= 0:
            return
        assigned = routing.route_queued_conversations(org_id=self.org.pk)
        if assigned:
            with self.as_system():
                self.waiting = Conversation.objects.filter(
                    status=Conversation.OPEN, assigned_to__isnull=True
                ).count()

    def detect_lapses(self) -> None:
        # Every connected browser has just sent its heartbeat; silent ones lapse.
        for person in [self.admin, *self.agents]:
            if person.request is not None and person.connected:
                with self.as_person(person):
                    worksession.heartbeat(user=person.user)
        worksession.heartbeat_lapses_detect(org_id=self.org.pk)
        worksession.work_sessions_expire(org_id=self.org.pk)

    def nightly_workflow(self) -> None:
        with self.as_system():
            conversations.conversations_close_stale()

    def manual_reassign(self) -> None:
        """The administrator moves a waiting or stuck conversation to the busiest Available agent."""
        with self.as_person(self.admin):
            available = [
                p for p in self.agents if p.request is not None and p.connected and p.user.is_active
            ]
            if not available:
                return
            target = max(available, key=lambda p: (worksession.agent_load(p.user.pk), p.user.pk))
            # The first time, the administrator piles on until the agent is over capacity
            # (Team Pulse's over-capacity marker, whatever day the month of history ends on).
            wanted = 1
            if not self.overloaded:
                spare = worksession.agent_status_for(target.user).capacity
                wanted = max(1, spare - worksession.agent_load(target.user.pk) + 1)
            candidates = (
                Conversation.objects.filter(status=Conversation.OPEN)
                .exclude(assigned_to=target.user)
                .order_by("last_activity_at")[:wanted]
            )
            for candidate in candidates:
                self.stalled.discard(candidate.pk)
                conversations.conversation_assign(
                    conversation=candidate, assignee=target.user, allow_over_capacity=True
                )
            if len(candidates) == wanted:
                self.overloaded = True

    def return_to_queue(self) -> None:
        with self.as_person(self.admin):
            conversation = (
                Conversation.objects.filter(status=Conversation.OPEN, assigned_to__isnull=False)
                .order_by("-last_activity_at")
                .first()
            )
            if conversation is not None:
                conversations.conversation_assign(conversation=conversation, assignee=None)
                self.waiting += 1
        self.route()

    # The month's administrative changes ---------------------------------------------------

    def scripted(self) -> dict[int, Callable[[], None]]:
        return {
            2: self.refine_billing_rule,
            3: lambda: self.admin_does(
                settings_app.shortcut_update,
                shortcut=self.shortcuts["Refund policy"],
                text="Refunds reach your card within 3 to 5 working days.",
            ),
            4: self.widen_connectivity_grace,
            5: lambda: self.admin_does(
                settings_app.search_update,
                search=self.searches["urgent"],
                columns=["subject", "customer", "priority", "queue", "assigned_to", "updated_at"],
            ),
            6: lambda: self.admin_does(
                accounts.role_group_update,
                group=self.team_lead_group,
                permissions=["conversations.work", "routing.manage", "settings.manage"],
            ),
            7: self.rotate_shortcuts,
            8: lambda: self.admin_does(
                worksession.agent_capacity_set, user=self.agents[3].user, capacity=4
            ),
            9: self.grant_support_access,
            10: lambda: self.admin_does(
                settings_app.business_rule_update, rule=self.rules["enterprise"], enabled=False
            ),
            11: lambda: self.admin_does(
                accounts.organization_settings_update,
                org=self.org,
                retention_by_type={"customer": 180},
            ),
            12: lambda: self.admin_does(
                settings_app.business_rule_update,
                rule=self.rules["enterprise"],
                enabled=True,
                position=0,
            ),
            13: lambda: self.admin_does(
                accounts.user_update, user=self.agents[4].user, phone="+44 7700 900123"
            ),
            14: self.revoke_support_access,
            15: lambda: self.admin_does(billing.seats_update, seasonal_seats=2),
            16: self.forget_a_customer,
            17: self.lockout_attempt,
            18: self.hire_temp,
            19: self.grant_short_support_access,
            20: lambda: self.admin_does(billing.plan_change, plan="business"),
            21: self.deactivate_temp,
            22: self.rotate_warehouse_token,
            23: lambda: self.admin_does(
                settings_app.search_delete, search=self.searches["billing"]
            ),
            24: self.grant_full_support_access,
            25: self.lower_support_access,
            26: self.extend_vip_rule,
            27: self.remove_temp,
            28: self.try_and_remove_rule,
            29: lambda: self.admin_does(
                worksession.agent_capacity_set, user=self.agents[3].user, capacity=3
            ),
        }

    def admin_does(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        with self.as_person(self.admin):
            return service(**kwargs)

    def refine_billing_rule(self) -> None:
        rule = self.rules["billing"]
        criteria = {
            "match": "any",
            "conditions": [
                *rule.criteria["conditions"],
                {"field": "subject", "operator": "contains", "value": "invoice"},
            ],
        }
        self.admin_does(settings_app.business_rule_update, rule=rule, criteria=criteria)

    def rotate_shortcuts(self) -> None:
        self.admin_does(settings_app.shortcut_delete, shortcut=self.shortcuts.pop("Outage apology"))
        self.tick(minutes=2)
        self.shortcuts["Incident update"] = self.admin_does(
            settings_app.shortcut_create,
            name="Incident update",
            text="Our status page has live updates: status.acme.test",
            category="Incidents",
        )

    def _expiry(self, days: int) -> datetime:
        # Expiries are checked against the real clock: keep them in the real future.
        return max(self.now + timedelta(days=days), timezone.now() + timedelta(days=1))

    def grant_support_access(self) -> None:
        self.first_grant = self.admin_does(
            settings_app.support_access_grant,
            access_level="read_only",
            expires_at=self._expiry(30),
            reason="Ticket 48213: routing question",
        )

    def grant_short_support_access(self) -> None:
        """A two-day grant nobody revokes: it ends by itself, as the beat task ends it."""
        grant = self.admin_does(
            settings_app.support_access_grant,
            access_level="read_only",
            expires_at=self.now + timedelta(days=2),
            reason="Ticket 53310: VIP queue check",
        )
        self.schedule(grant.expires_at, self.expire_support_access)

    def expire_support_access(self) -> None:
        with self.as_system():
            settings_app.support_access_expire()

    def widen_connectivity_grace(self) -> None:
        """Home connections drop for a moment: two minutes before an agent is set Unavailable."""
        self.org = self.admin_does(
            accounts.organization_settings_update, org=self.org, heartbeat_grace_seconds=120
        )

    def revoke_support_access(self) -> None:
        if getattr(self, "first_grant", None) is not None:
            self.admin_does(settings_app.support_access_revoke, grant=self.first_grant)

    def grant_full_support_access(self) -> None:
        self.second_grant = self.admin_does(
            settings_app.support_access_grant,
            access_level="full",
            expires_at=self._expiry(14),
            reason="Ticket 51877: migrate saved searches",
        )

    def lower_support_access(self) -> None:
        if getattr(self, "second_grant", None) is not None:
            self.admin_does(
                settings_app.support_access_update,
                grant=self.second_grant,
                access_level="read_only",
            )
        if getattr(self, "first_grant", None) is not None:
            self.tick(minutes=1)
            self.admin_does(settings_app.support_access_delete, grant=self.first_grant)
            self.first_grant = None

    def forget_a_customer(self) -> None:
        """A right-to-erasure request: the customer and their conversations go."""
        customer = self.customers.pop(self.rng.randrange(len(self.customers)))
        self.admin_does(conversations.customer_delete, customer=customer)

    def lockout_attempt(self) -> None:
        from axes.utils import reset

        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.failed_login(ADMIN[0], "185.220.101.47", "python-requests/2.31")
            self.tick(seconds=self.rng.randint(2, 6))
        # The administrator is let back in by the vendor after checking (the demo must stay usable).
        reset(username=ADMIN[0])

    def hire_temp(self) -> None:
        with self.as_person(self.admin):
            self.temp = accounts.user_create(
                email="jordan.temp@acme.test",
                name="Jordan Lee (temp)",
                password=self.password,
                role_group=RoleGroup.objects.get(name=AGENT),
            )

    def deactivate_temp(self) -> None:
        if getattr(self, "temp", None) is not None:
            self.admin_does(accounts.user_update, user=self.temp, is_active=False)

    def remove_temp(self) -> None:
        if getattr(self, "temp", None) is not None:
            self.admin_does(accounts.user_delete, user=self.temp)
            self.temp = None
        self.tick(minutes=2)
        self.admin_does(billing.seats_update, collaborator_seats=3)

    def rotate_warehouse_token(self) -> None:
        self.admin_does(accounts.api_token_revoke, token=self.warehouse_token)
        self.tick(minutes=1)
        self.warehouse_token, _ = self.admin_does(
            accounts.api_token_create,
            name="Data warehouse (rotated)",
            scopes=["audit:read", "audit:export"],
            created_by=self.admin.user,
        )

    def extend_vip_rule(self) -> None:
        rule = self.rules["vip"]
        self.admin_does(
            settings_app.business_rule_update,
            rule=rule,
            actions=[*rule.actions, {"type": "set_queue", "value": "VIP"}],
        )

    def try_and_remove_rule(self) -> None:
        trial = self.admin_does(
            settings_app.business_rule_create,
            name="Tag feature requests",
            criteria={
                "match": "all",
                "conditions": [
                    {"field": "subject", "operator": "starts_with", "value": "feature request"}
                ],
            },
            actions=[{"type": "add_tag", "value": "feature-request"}],
        )
        self.tick(minutes=35)
        self.admin_does(settings_app.business_rule_delete, rule=trial)
