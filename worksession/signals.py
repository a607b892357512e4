"""Work sessions follow sign-in: one starts at login and ends at logout."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from accounts.tenancy import tenant
from auditlog.context import Actor
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
