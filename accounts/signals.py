"""Sign-in events: login, logout, failed sign-in and lockout, recorded in the user's organisation.

A failed sign-in is performed by `anonymous` (nobody is signed in); its subject is the
account that was tried, if it exists, and its metadata the email tried and why it failed.
A lockout is the product's own reaction, so `system` performs it, about the same account;
it is recorded after the failed attempt that caused it.
"""

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from accounts.backends import SIGNIN_FAILURE
from accounts.models import User
from auditlog.signals import audit_event
from core import context
from core.context import ANONYMOUS, SYSTEM, Actor

# Request attributes: the failed attempt is recorded; a lockout waiting for that row.
_FAILURE_RECORDED = "auditdesk_failure_recorded"
_LOCKOUT_PENDING = "auditdesk_lockout_pending"


def _request_context(request: Any) -> dict[str, Any]:
    if request is None:
        return {}
    return {
        "ip_address": context.client_ip(request.META),
        "user_agent": request.headers.get("User-Agent", "")[:1000] or None,
    }


def _session_event(
    action: str, user: User | None, request: Any, *, actor: Actor, metadata: dict | None = None
) -> None:
    with context.use(**_request_context(request)):
        audit_event.send(
            sender=User,
            section="Session",
            action=action,
            subject_id=user.pk if user else None,
            subject_name=(user.name or user.email) if user else "",
            org_id=user.org_id if user else None,
            actor=actor,
            metadata=metadata or {},
        )


@receiver(user_logged_in, dispatch_uid="accounts-audit-login")
def _on_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    _session_event("login", user, request, actor=Actor.for_user(user))


@receiver(user_logged_out, dispatch_uid="accounts-audit-logout")
def _on_logout(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        _session_event("logout", user, request, actor=Actor.for_user(user))


def _user_for(credentials: dict[str, Any]) -> tuple[User | None, str]:
    email = str(credentials.get("username") or credentials.get("email") or "").strip().lower()[:254]
    user = User.all_tenants.filter(email=email).first() if email else None
    return user, email


def _failure_reason(request: Any) -> str:
    """Why the sign-in failed: the password check's verdict, or `locked` when django-axes
    refused the attempt before any check (`refused`: no request to tell)."""
    reason = getattr(request, SIGNIN_FAILURE, None)
    if reason is not None:
        return reason
    return "locked" if getattr(request, "axes_locked_out", False) else "refused"


@receiver(user_login_failed, dispatch_uid="accounts-audit-login-failed")
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    user, email = _user_for(credentials)
    # Unknown emails belong to no organisation: the row is kept for platform operators only.
    _session_event(
        "login_failed",
        user,
        request,
        actor=ANONYMOUS,
        metadata={"email_tried": email, "reason": _failure_reason(request)},
    )
    if request is not None:
        setattr(request, _FAILURE_RECORDED, True)
        pending = getattr(request, _LOCKOUT_PENDING, None)
        if pending is not None:
            delattr(request, _LOCKOUT_PENDING)
            _record_lockout(request, *pending)


@receiver(user_locked_out, dispatch_uid="accounts-audit-lockout")
def _on_locked_out(
    sender: Any, request: Any, username: str, ip_address: str, **kwargs: Any
) -> None:
    user, email = _user_for({"username": username})
    # django-axes locks out while handling the failed attempt, before that attempt's row.
    if request is not None and not getattr(request, _FAILURE_RECORDED, False):
        setattr(request, _LOCKOUT_PENDING, (user, email))
        return
    _record_lockout(request, user, email)


def _record_lockout(request: Any, user: User | None, email: str) -> None:
    unlock_at = timezone.now() + settings.AXES_COOLOFF_TIME
    _session_event(
        "lockout",
        user,
        request,
        actor=SYSTEM,
        metadata={
            "email_tried": email,
            "failed_attempts": settings.AXES_FAILURE_LIMIT,
            "unlock_at": unlock_at.isoformat(),
        },
    )
