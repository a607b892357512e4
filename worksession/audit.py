"""What worksession records: its state changes are explicit Work Session events (catalog
section "Work Session", written by worksession/services.py with recorder.record), so the
model that holds the state is not watched itself."""

from auditlog.recorder import exempt
from worksession.models import AgentStatus

exempt(
    AgentStatus,
    reason="status, capacity, sessions and assignments are recorded as Work Session events "
    "by worksession/services.py (record()), with the reason and the load they happened at",
)
