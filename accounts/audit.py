"""What accounts records: users, role groups and API tokens (section names from the catalog)."""

from accounts.models import ApiToken, RoleGroup, User
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
