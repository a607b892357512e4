"""Celery base task that carries the sender's audit context into the worker."""

from typing import Any

from celery import Task

from auditlog import context

CONTEXT_KWARG = "_audit_context"


class ContextTask(Task):
    """Tasks run with the audit context of whoever sent them (actor, org, request id)."""

    def apply_async(self, args: Any = None, kwargs: dict | None = None, **options: Any) -> Any:
        kwargs = dict(kwargs or {})
        kwargs.setdefault(CONTEXT_KWARG, context.current().to_dict())
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sent = kwargs.pop(CONTEXT_KWARG, None)
        if sent is None:
            return super().__call__(*args, **kwargs)
        with context.use(context.AuditContext.from_dict(sent)):
            return super().__call__(*args, **kwargs)
