"""Work sessions follow sign-in (one starts at login and ends at logout), and assignments
answer to the agent's capacity and are recorded with the agent's load."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts.models import User
from conversations import hooks
from conversations.models import Conversation
from conversations.services import ConversationError
from core.context import Actor
from core.tenancy import tenant
from worksession import services


def _works_conversations(user: Any) -> bool:
    return getattr(user, "org_id", None) is not None and user.has_org_perm("conversations.work")


@receiver(user_logged_in, dispatch_uid="worksession-start-on-login")
def _start_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if _works_conversations(user):
        # The login request was anonymous until now: act as the user who just signed in.
        with tenant(user.org_id, actor=Actor.for_user(user)):
            services.work_session_start(user=user, reason="login")


@receiver(user_logged_out, dispatch_uid="worksession-end-on-logout")
def _end_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and _works_conversations(user):
        with tenant(user.org_id, actor=Actor.for_user(user)):
            services.work_session_end(user=user, reason="logout")


@receiver(hooks.assignment_checking, sender=Conversation, dispatch_uid="worksession-capacity")
def _refuse_over_capacity(
    sender: type[Conversation],
    conversation: Conversation,
    assignee: User,
    allow_over_capacity: bool,
    **kwargs: Any,
) -> None:
    if allow_over_capacity:
        return
    load = services.load_if_assigned(user=assignee, conversation=conversation)
    if load.over_capacity:
        raise ConversationError(
            "assigned_to",
            f"{assignee} is at capacity ({load.before} of {load.capacity} open conversations); "
            "only someone who manages routing can assign beyond it.",
        )


@receiver(hooks.assignment_changed, sender=Conversation, dispatch_uid="worksession-assignment")
def _record_assignment(
    sender: type[Conversation],
    conversation: Conversation,
    previous_assignee_id: int | None,
    previous_status: str,
    deleted: bool,
    **kwargs: Any,
) -> None:
    services.assignment_changed(
        conversation=conversation,
        previous_assignee_id=previous_assignee_id,
        previous_status=previous_status,
        deleted=deleted,
    )
