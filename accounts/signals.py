"""Sign-in events: login, logout, failed sign-in and lockout, recorded in the user's organisation."""

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User
from auditlog import context
from auditlog.context import Actor
from auditlog.signals import audit_event


def _request_context(request: Any) -> dict[str, Any]:
    if request is None:
        return {}
    return {
        "ip_address": context.client_ip(request.META),
        "user_agent": request.headers.get("User-Agent", "")[:1000] or None,
    }


def _session_event(
    action: str, user: User | None, request: Any, metadata: dict | None = None, email: str = ""
) -> None:
    with context.use(**_request_context(request)):
        audit_event.send(
            sender=User,
            section="Session",
            action=action,
            subject_id=user.pk if user else None,
            subject_name=(user.name or user.email) if user else email,
            org_id=user.org_id if user else None,
            actor=Actor.for_user(user) if user else Actor("user", None, email or "Unknown"),
            metadata=metadata or {},
        )


@receiver(user_logged_in, dispatch_uid="accounts-audit-login")
def _on_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    _session_event("login", user, request)


@receiver(user_logged_out, dispatch_uid="accounts-audit-logout")
def _on_logout(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        _session_event("logout", user, request)


def _user_for(credentials: dict[str, Any]) -> tuple[User | None, str]:
    email = str(credentials.get("username") or credentials.get("email") or "").strip().lower()[:254]
    user = User.all_tenants.filter(email=email).first() if email else None
    return user, email


@receiver(user_login_failed, dispatch_uid="accounts-audit-login-failed")
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    user, email = _user_for(credentials)
    # Unknown emails belong to no organisation: the row is kept for platform operators only.
    _session_event("login_failed", user, request, metadata={"email": email}, email=email)


@receiver(user_locked_out, dispatch_uid="accounts-audit-lockout")
def _on_locked_out(
    sender: Any, request: Any, username: str, ip_address: str, **kwargs: Any
) -> None:
    user, email = _user_for({"username": username})
    unlock_at = timezone.now() + settings.AXES_COOLOFF_TIME
    _session_event(
        "lockout",
        user,
        request,
        metadata={
            "email": email,
            "failed_attempts": settings.AXES_FAILURE_LIMIT,
            "unlock_at": unlock_at.isoformat(),
        },
        email=email,
    )
