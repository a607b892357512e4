"""Every write to customers and conversations. Business rules run here, in the same transaction.

A conversation create or update (by a person, an API client or the workflow) saves the change
as its actor, then runs the organisation's enabled business rules once, in position order:
each matching rule's changes are saved as that rule (performed by `business_rule`), and what
a rule changes does not trigger the rules again. Assignment alone (the queue router, a
manual assign) does not run the rules, so rules and the router never fight over a
conversation.
"""

import enum
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from accounts.models import User
from conversations import hooks
from conversations.models import Conversation, Customer, WorkflowSettings
from core import clock, context
from core.context import Actor
from settings_app.criteria import matches
from settings_app.selectors import business_rules_enabled

MAX_TAGS = 50
MAX_TAG_LENGTH = 50


class _Unset(enum.Enum):
    token = 0


UNSET = _Unset.token


class ConversationError(ValueError):
    """A change the rules of the domain refuse; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_tags(tags: list[str] | None) -> list[str]:
    """Tags compare case-insensitively (as rule criteria do): one spelling, no duplicates."""
    cleaned: list[str] = []
    for tag in tags or []:
        if not isinstance(tag, str):
            raise ConversationError("tags", "Tags must be text.")
        tag = tag.strip().casefold()
        if len(tag) > MAX_TAG_LENGTH:
            raise ConversationError("tags", f"A tag is at most {MAX_TAG_LENGTH} characters.")
        if tag and tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ConversationError("tags", f"At most {MAX_TAGS} tags.")
    return cleaned


# Customers ----------------------------------------------------------------------------------


def customer_create(
    *, name: str, email: str = "", phone: str = "", tags: list[str] | None = None
) -> Customer:
    customer = Customer(
        name=name.strip(),
        email=email.strip().lower(),
        phone=phone.strip(),
        tags=normalize_tags(tags),
        created_at=clock.now(),
    )
    customer.save()
    return customer


def customer_update(
    *,
    customer: Customer,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    tags: list[str] | None = None,
) -> Customer:
    if name is not None:
        customer.name = name.strip()
    if email is not None:
        customer.email = email.strip().lower()
    if phone is not None:
        customer.phone = phone.strip()
    if tags is not None:
        customer.tags = normalize_tags(tags)
    customer.save()
    return customer


def customer_delete(*, customer: Customer) -> None:
    """Deletes the customer's conversations first, each through its service (and its rows)."""
    with transaction.atomic():
        for conversation in Conversation.objects.filter(customer=customer).select_related(
            "assigned_to"
        ):
            conversation_delete(conversation=conversation)
        customer.delete()


# Conversations ------------------------------------------------------------------------------


def _check_choice(field: str, value: str, choices: dict[str, str]) -> None:
    if value not in choices:
        raise ConversationError(field, f"{value!r} is not a valid {field} ({', '.join(choices)}).")


def _check_assignment(
    conversation: Conversation, assignee: User, allow_over_capacity: bool
) -> None:
    """Sends assignment_checking, whose receivers (worksession: capacity) may refuse it."""
    hooks.assignment_checking.send(
        sender=Conversation,
        conversation=conversation,
        assignee=assignee,
        allow_over_capacity=allow_over_capacity,
    )


def _save(
    conversation: Conversation, *, previous_assignee_id: int | None, previous_status: str
) -> None:
    conversation.save()
    hooks.assignment_changed.send(
        sender=Conversation,
        conversation=conversation,
        previous_assignee_id=previous_assignee_id,
        previous_status=previous_status,
        deleted=False,
    )


def conversation_create(
    *,
    customer: Customer,
    subject: str,
    status: str = Conversation.OPEN,
    priority: str = "normal",
    tags: list[str] | None = None,
    queue: str = "",
    assigned_to: User | None = None,
    snoozed_until: datetime | None = None,
    allow_over_capacity: bool = False,
) -> Conversation:
    _check_choice("status", status, Conversation.STATUS_CHOICES)
    _check_choice("priority", priority, Conversation.PRIORITY_CHOICES)
    now = clock.now()
    conversation = Conversation(
        customer=customer,
        subject=subject.strip(),
        status=status,
        priority=priority,
        tags=normalize_tags(tags),
        queue=queue.strip(),
        assigned_to=assigned_to,
        snoozed_until=snoozed_until if status == Conversation.SNOOZED else None,
        created_at=now,
        last_activity_at=now,
    )
    with transaction.atomic():
        if assigned_to is not None:
            _check_assignment(conversation, assigned_to, allow_over_capacity)
        _save(conversation, previous_assignee_id=None, previous_status=status)
        _run_business_rules(conversation)
    return conversation


def conversation_update(
    *,
    conversation: Conversation,
    subject: str | _Unset = UNSET,
    customer: Customer | _Unset = UNSET,
    status: str | _Unset = UNSET,
    priority: str | _Unset = UNSET,
    tags: list[str] | _Unset = UNSET,
    queue: str | _Unset = UNSET,
    assigned_to: User | None | _Unset = UNSET,
    snoozed_until: datetime | None | _Unset = UNSET,
    allow_over_capacity: bool = False,
) -> Conversation:
    """Apply the given changes (omitted ones stay), then the business rules if anything changed."""
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("subject", subject.strip() if isinstance(subject, str) else subject),
            ("customer", customer),
            ("status", status),
            ("priority", priority),
            ("tags", normalize_tags(tags) if isinstance(tags, list) else tags),
            ("queue", queue.strip() if isinstance(queue, str) else queue),
            ("assigned_to", assigned_to),
            ("snoozed_until", snoozed_until),
        )
        if value is not UNSET
    }
    if "status" in changes:
        _check_choice("status", changes["status"], Conversation.STATUS_CHOICES)
    if "priority" in changes:
        _check_choice("priority", changes["priority"], Conversation.PRIORITY_CHOICES)
    if "customer" in changes and changes["customer"].org_id != conversation.org_id:
        raise ConversationError("customer", "No such customer in this organisation.")
    with transaction.atomic():
        previous_assignee_id, previous_status = conversation.assigned_to_id, conversation.status
        changed = False
        for name, value in changes.items():
            if getattr(conversation, name) != value:
                setattr(conversation, name, value)
                changed = True
        if conversation.status != Conversation.SNOOZED and conversation.snoozed_until is not None:
            conversation.snoozed_until = None
            changed = True
        if not changed:
            return conversation
        if (
            conversation.assigned_to_id is not None
            and conversation.assigned_to_id != previous_assignee_id
        ):
            _check_assignment(conversation, conversation.assigned_to, allow_over_capacity)
        conversation.last_activity_at = clock.now()
        _save(
            conversation,
            previous_assignee_id=previous_assignee_id,
            previous_status=previous_status,
        )
        _run_business_rules(conversation)
    return conversation


def conversation_assign(
    *, conversation: Conversation, assignee: User | None, allow_over_capacity: bool = False
) -> Conversation:
    """Assign (or unassign, with None). Beyond capacity only when allowed (routing managers)."""
    if assignee is not None and assignee.org_id != conversation.org_id:
        raise ConversationError("assigned_to", "No such user in this organisation.")
    with transaction.atomic():
        previous_assignee_id, previous_status = conversation.assigned_to_id, conversation.status
        if previous_assignee_id == (assignee.pk if assignee else None):
            return conversation
        if assignee is not None:
            _check_assignment(conversation, assignee, allow_over_capacity)
        conversation.assigned_to = assignee
        _save(
            conversation,
            previous_assignee_id=previous_assignee_id,
            previous_status=previous_status,
        )
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    with transaction.atomic():
        if conversation.assigned_to_id is not None:
            # Recorded first, while the conversation still has its id for the row.
            hooks.assignment_changed.send(
                sender=Conversation,
                conversation=conversation,
                previous_assignee_id=conversation.assigned_to_id,
                previous_status=conversation.status,
                deleted=True,
            )
        conversation.delete()


# Business rules -----------------------------------------------------------------------------


def rule_values(conversation: Conversation) -> dict[str, Any]:
    """The conversation as the criteria language sees it (settings_app.criteria.FIELDS)."""
    customer = conversation.customer
    return {
        "status": conversation.status,
        "priority": conversation.priority,
        "queue": conversation.queue,
        "tags": list(conversation.tags),
        "subject": conversation.subject,
        "customer_email": customer.email,
        "customer_tags": list(customer.tags),
    }


def _apply_actions(conversation: Conversation, actions: list[dict[str, Any]]) -> bool:
    changed = False
    for action in actions:
        kind, value = action.get("type"), action.get("value")
        if kind == "set_priority" and value in Conversation.PRIORITY_CHOICES:
            changed |= conversation.priority != value
            conversation.priority = value
        elif kind == "add_tag" and isinstance(value, str) and value:
            tag = value.strip().casefold()
            if tag not in conversation.tags:
                conversation.tags = [*conversation.tags, tag]
                changed = True
        elif kind == "set_queue" and isinstance(value, str):
            changed |= conversation.queue != value
            conversation.queue = value
        elif kind == "assign_to":
            # A user deactivated or deleted since the rule was written is skipped, not an error.
            assignee = User.objects.filter(pk=value, is_active=True).first()
            if assignee is not None and assignee.pk != conversation.assigned_to_id:
                conversation.assigned_to = assignee
                changed = True
    return changed


def _run_business_rules(conversation: Conversation) -> None:
    for rule in business_rules_enabled():
        if not matches(rule.criteria, rule_values(conversation)):
            continue
        previous_assignee_id, previous_status = conversation.assigned_to_id, conversation.status
        if not _apply_actions(conversation, rule.actions):
            continue
        with context.use(actor=Actor("business_rule", str(rule.pk), rule.name)):
            _save(
                conversation,
                previous_assignee_id=previous_assignee_id,
                previous_status=previous_status,
            )


# Workflow -----------------------------------------------------------------------------------


def workflow_settings() -> WorkflowSettings:
    """The organisation's workflow settings, made with the defaults on first use: by the
    platform (`system`), not by whoever happened to open the page or run the workflow first."""
    settings = WorkflowSettings.objects.first()
    if settings is None:
        with context.use(actor=context.SYSTEM):
            settings, _ = WorkflowSettings.objects.get_or_create(org_id=context.current().org_id)
    return settings


def workflow_settings_update(*, enabled: bool, idle_days: int) -> WorkflowSettings:
    if idle_days < 1:
        raise ConversationError("idle_days", "Idle days must be at least 1.")
    settings = workflow_settings()
    settings.enabled, settings.idle_days = enabled, idle_days
    settings.save()
    return settings


def conversations_close_stale() -> list[int]:
    """The scheduled workflow: close snoozed conversations past their wake time and open ones
    idle for the configured days, performed by `workflow`. Returns the closed ids.

    Rows another transaction holds (an agent editing) are skipped and picked up next run.
    """
    settings = workflow_settings()
    if not settings.enabled:
        return []
    now = clock.now()
    actor = Actor("workflow", str(settings.pk), "Close idle conversations")
    closed: list[int] = []
    with context.use(actor=actor), transaction.atomic():
        overslept = Conversation.objects.filter(status=Conversation.SNOOZED, snoozed_until__lt=now)
        idle = Conversation.objects.filter(
            status=Conversation.OPEN, last_activity_at__lt=now - timedelta(days=settings.idle_days)
        )
        for queryset in (overslept, idle):
            for conversation in (
                queryset.select_for_update(skip_locked=True, of=("self",))
                .select_related("customer")
                .order_by("pk")
            ):
                conversation_update(conversation=conversation, status=Conversation.DONE)
                closed.append(conversation.pk)
    return closed
