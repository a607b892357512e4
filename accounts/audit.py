"""What accounts records: organisations, users, role groups and API tokens (catalog sections)."""

from accounts.models import ApiToken, Organization, RoleGroup, User
from auditlog.recorder import track


def _role_group_name(role_group_id: int) -> str:
    name = RoleGroup.all_tenants.filter(pk=role_group_id).values_list("name", flat=True).first()
    return name or f"Role group #{role_group_id}"


track(
    User,
    section="User",
    fields=("name", "email", "phone", "role_group", "is_active", "password"),
    subject_name=lambda user: user.name or user.email,
    display={"role_group": _role_group_name},
)
track(
    RoleGroup,
    section="Role Group",
    fields=("name", "permissions"),
    subject_name=lambda group: group.name,
)
track(
    ApiToken, section="API Token", fields=("name", "scopes"), subject_name=lambda token: token.name
)
# Retention (`retention_days`) is not a field here: auditlog.retention.retention_set records it.
track(
    Organization,
    section="Organisation",
    fields=("name", "time_zone", "heartbeat_grace_seconds"),
    subject_name=lambda org: org.name,
    org_of=lambda org: org.pk,
)
