"""Sets the audit context for each request, after authentication; clears the tenant at the end."""

from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished
from django.db import connections
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from core import context
from core.context import Actor


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.new_request_id(request.headers.get("X-Request-ID"))
        user = request.user
        authenticated = user.is_authenticated
        new = context.AuditContext(
            org_id=getattr(user, "org_id", None) if authenticated else None,
            actor=Actor.for_user(user) if authenticated else context.SYSTEM,
            ip_address=context.client_ip(request.META),
            user_agent=request.headers.get("User-Agent", "")[:1000] or None,
            request_id=request_id,
        )
        request.request_id = request_id
        with context.use(new):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


@receiver(request_finished, dispatch_uid="auditlog-reset-tenant-setting")
def reset_tenant_setting(**kwargs: Any) -> None:
    """A kept-alive connection must not carry this request's organisation (`app.org_id`, read
    by the audit table's row-level security) into the next request. On request_finished, not
    in the middleware: a streamed export still reads after the middleware has returned."""
    for connection in connections.all(initialized_only=True):
        reset = getattr(connection, "reset_audit_org", None)
        if reset is not None:
            reset()
