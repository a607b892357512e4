"""What the audit log records about itself: exports of its rows (auditlog/declare.py)."""

from auditlog.declare import Events, register

register(
    # Written by audit_read/exports.py when an export is taken (streamed or in the background).
    Events(
        section="Export",
        event_type="authorization",
        subject_type="export",
        actions=("create",),
        properties=("format",),
    ),
)
