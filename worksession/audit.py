"""What worksession records: its state changes are explicit Work Session events (written by
worksession/services.py with recorder.record), so the model that holds the state is not
watched itself (auditlog/declare.py)."""

from auditlog.declare import Events, Exempt, Link, register
from worksession.models import AgentStatus

register(
    Events(
        section="Work Session",
        event_type="work_session",
        subject_type="user",
        actions=("session_start", "session_end", "update", "assign", "unassign"),
        properties=("status", "capacity", "conversation"),
        links=(Link(label="Timeline", url_name="work_timeline", per_day=True),),
    ),
    Exempt(
        AgentStatus,
        reason="status, capacity, sessions and assignments are recorded as Work Session events "
        "by worksession/services.py (record()), with the reason and the load they happened at",
    ),
)
