"""Each agent's routing state: availability, capacity, heartbeat and current work session."""

from django.conf import settings
from django.db import models

from core.tenancy import TenantModel

AVAILABLE = "Available"
UNAVAILABLE = "Unavailable"
STATUSES: tuple[str, ...] = (AVAILABLE, UNAVAILABLE)
DEFAULT_CAPACITY = 3


class AgentStatus(TenantModel):
    """One row per agent, keyed by the user so that audit rows' subject is the agent itself.

    Not tracked by model signals: its changes are explicit Work Session events (status,
    capacity, session start/end) that carry metadata a plain diff cannot, such as why a
    status changed. worksession.services is the only writer and records every change.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="agent_status",
        # Enforced with the organisation: FOREIGN KEY (org_id, user_id) (tenant_keys migration).
        db_constraint=False,
    )
    status = models.CharField(
        max_length=16, choices=[(s, s) for s in STATUSES], default=UNAVAILABLE
    )
    capacity = models.PositiveSmallIntegerField(default=DEFAULT_CAPACITY)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The current work session's start; null while the agent has no session.
    session_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["org", "status"], name="agentstatus_org_status")]

    def __str__(self) -> str:
        return f"{self.user} ({self.status})"

    @property
    def is_available(self) -> bool:
        return self.status == AVAILABLE
