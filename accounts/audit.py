"""What accounts records: sign-ins, users, role groups, API tokens and the organisation's own
settings (auditlog/declare.py)."""

from accounts.models import ApiToken, Organization, RoleGroup, User
from auditlog.declare import Audited, Events, Nav, register


def _role_group_name(role_group_id: int) -> str:
    name = RoleGroup.all_tenants.filter(pk=role_group_id).values_list("name", flat=True).first()
    return name or f"Role group #{role_group_id}"


register(
    # Written by accounts/signals.py: sign-ins, sign-outs, failed sign-ins and lockouts.
    Events(
        section="Session",
        event_type="authorization",
        subject_type="user",
        actions=("login", "logout", "login_failed", "lockout"),
    ),
    Audited(
        model=User,
        section="User",
        event_type="authorization",
        subject_type="user",
        properties=("name", "email", "phone", "role_group", "is_active", "password"),
        redacted=("password",),
        subject_name=lambda user: user.name or user.email,
        display={"role_group": _role_group_name},
        edit_url="accounts:user_edit",
        history="User",
        nav=Nav(group="Organisation", label="Users", url_name="accounts:users", order=20),
    ),
    Audited(
        model=RoleGroup,
        section="Role Group",
        event_type="authorization",
        subject_type="role_group",
        properties=("name", "permissions"),
        subject_name=lambda group: group.name,
        edit_url="accounts:role_group_edit",
        history="Role group",
        nav=Nav(
            group="Organisation", label="Role Groups", url_name="accounts:role_groups", order=30
        ),
    ),
    Audited(
        model=ApiToken,
        section="API Token",
        event_type="authorization",
        subject_type="api_token",
        properties=("name", "scopes"),
        actions=("create", "delete"),
        subject_name=lambda token: token.name,
        nav=Nav(group="Security", label="API Tokens", url_name="accounts:api_tokens", order=20),
    ),
    # Retention (`retention_days`) is not a field: auditlog.retention.retention_set records it.
    Audited(
        model=Organization,
        section="Organisation",
        event_type="settings",
        subject_type="organization",
        kind="organisation",
        properties=("name", "time_zone", "heartbeat_grace_seconds"),
        recorded=("retention_days",),
        subject_name=lambda org: org.name,
        org_of=lambda org: org.pk,
        nav=Nav(
            group="Organisation",
            label="Name, time zone & retention",
            url_name="accounts:organization",
            order=10,
        ),
    ),
)
