"""Reads of accounts' state that more than one caller needs."""

from dataclasses import dataclass, field

from accounts.models import Organization
from auditlog.models import AuditRetention


@dataclass(frozen=True)
class OrganizationSettings:
    """What Settings > Organisation shows: the organisation's own values and its retention."""

    name: str
    time_zone: str
    heartbeat_grace_seconds: int
    retention_days: int  # the limit for every type
    retention_by_type: dict[str, int] = field(default_factory=dict)  # chosen, not defaults


def organization_settings(org: Organization) -> OrganizationSettings:
    chosen = AuditRetention.all_tenants.filter(org_id=org.pk).values_list("event_type", "days")
    return OrganizationSettings(
        name=org.name,
        time_zone=org.time_zone,
        heartbeat_grace_seconds=org.heartbeat_grace_seconds,
        retention_days=org.audit_retention_days,
        retention_by_type=dict(chosen),
    )
