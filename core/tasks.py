"""Celery base task that carries the sender's context (actor, organisation, IP, request id)
into the worker."""

from typing import Any

from celery import Task

from core import context

CONTEXT_HEADER = "audit_context"


class ContextTask(Task):
    """Tasks run with the audit context of whoever sent them (actor, org, ip, request id)."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        headers = dict(options.pop("headers", None) or {})
        headers.setdefault(CONTEXT_HEADER, context.current().to_dict())
        return super().apply_async(args, kwargs, headers=headers, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Custom message headers surface as attributes of the task's request.
        sent = getattr(self.request, CONTEXT_HEADER, None)
        if not sent:
            return super().__call__(*args, **kwargs)
        with context.use(context.AuditContext.from_dict(sent)):
            return super().__call__(*args, **kwargs)
