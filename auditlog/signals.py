"""The signal through which any app records an explicit event (login, assign, lockout, …)."""

from typing import Any

from django.dispatch import Signal, receiver

# Keyword arguments are those of `auditlog.recorder.record`.
audit_event = Signal()


@receiver(audit_event, dispatch_uid="auditlog-record-explicit-event")
def _record_explicit_event(sender: Any, **kwargs: Any) -> None:
    from auditlog.recorder import record

    kwargs.pop("signal", None)
    record(**kwargs)
