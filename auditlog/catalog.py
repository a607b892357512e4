"""The single source of truth for what the audit log can contain and how it is filtered."""

from dataclasses import dataclass

EVENT_TYPES: dict[str, str] = {
    "authorization": "Authorization",
    "billing": "Billing",
    "settings": "Settings",
    "work_session": "Work Session",
    "conversation": "Conversation",
    "customer": "Customer",
}

ACTIONS: dict[str, str] = {
    "create": "Create",
    "update": "Update",
    "delete": "Delete",
    "login": "Login",
    "logout": "Logout",
    "login_failed": "Login failed",
    "lockout": "Lockout",
    "assign": "Assign",
    "unassign": "Unassign",
    "session_start": "Session start",
    "session_end": "Session end",
}

ACTOR_TYPES: dict[str, str] = {
    "user": "User",
    "system": "System",
    "workflow": "Workflow",
    "business_rule": "Business rule",
    "queue_router": "Queue router",
    "api": "API",
    # A failed sign-in: nobody is signed in, so nobody can be named (SPEC 8.3).
    "anonymous": "Anonymous",
}

# The Kind sub-filter's values: a settings section's subject type, except where SPEC 8.3
# spells the kind differently (KIND_SUBJECT_TYPES).
SETTINGS_KINDS: dict[str, str] = {
    "search": "Searches",
    "shortcut": "Shortcuts",
    "business_rule": "Business Rule",
    "support_access": "Support Access",
    "organisation": "Organisation",
    "workflow": "Workflow",
}
KIND_SUBJECT_TYPES: dict[str, str] = {"organisation": "organization"}

REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the log: the object or setting a row is about."""

    name: str
    event_type: str
    actions: tuple[str, ...]
    properties: tuple[str, ...]
    subject_type: str
    redacted: tuple[str, ...] = ()


SECTIONS: tuple[Section, ...] = (
    Section("Session", "authorization", ("login", "logout", "login_failed", "lockout"), (), "user"),
    Section(
        "User",
        "authorization",
        ("create", "update", "delete"),
        ("name", "email", "phone", "role_group", "is_active", "password"),
        "user",
        redacted=("password",),
    ),
    Section(
        "Role Group",
        "authorization",
        ("create", "update", "delete"),
        ("name", "permissions"),
        "role_group",
    ),
    Section("API Token", "authorization", ("create", "delete"), ("name", "scopes"), "api_token"),
    Section("Export", "authorization", ("create",), ("format",), "export"),
    # `create` once, when the organisation is provisioned with its initial plan and seats.
    Section("Plan", "billing", ("create", "update"), ("plan",), "organization"),
    Section(
        "Seats",
        "billing",
        ("create", "update"),
        ("full_time_seats", "seasonal_seats", "collaborator_seats"),
        "organization",
    ),
    Section(
        "Search",
        "settings",
        ("create", "update", "delete"),
        ("name", "criteria", "columns"),
        "search",
    ),
    Section(
        "Shortcut",
        "settings",
        ("create", "update", "delete"),
        ("name", "text", "category"),
        "shortcut",
    ),
    Section(
        "Business Rule",
        "settings",
        ("create", "update", "delete"),
        ("name", "enabled", "criteria", "actions", "position"),
        "business_rule",
    ),
    # The organisation's own settings; `retention_days` (metadata.event_type for one type's)
    # is the retention policy the purge applies once the change is sealed. `create` when the
    # organisation is provisioned, `delete` if a platform operator removes it.
    Section(
        "Organisation",
        "settings",
        ("create", "update", "delete"),
        ("name", "time_zone", "retention_days", "heartbeat_grace_seconds"),
        "organization",
    ),
    Section(
        "Support Access",
        "settings",
        ("create", "update", "delete"),
        ("enabled", "access_level", "expires_at"),
        "support_access",
    ),
    # The scheduled workflows' settings (the close workflow's switch and idle days).
    Section(
        "Workflow",
        "settings",
        ("create", "update", "delete"),
        ("enabled", "idle_days"),
        "workflow",
    ),
    Section(
        "Work Session",
        "work_session",
        ("session_start", "session_end", "update", "assign", "unassign"),
        ("status", "capacity", "conversation"),
        "user",
    ),
    Section(
        "Conversation",
        "conversation",
        ("create", "update", "delete", "assign", "unassign"),
        ("status", "assigned_to", "priority", "tags", "queue", "subject", "customer"),
        "conversation",
    ),
    Section(
        "Customer",
        "customer",
        ("create", "update", "delete"),
        ("name", "email", "phone", "tags"),
        "customer",
    ),
)

SECTIONS_BY_NAME: dict[str, Section] = {section.name: section for section in SECTIONS}

# Per event type, the extra filters the viewer reveals once that type is chosen.
SUB_FILTERS: dict[str, tuple[str, ...]] = {
    "authorization": ("user",),
    "billing": (),
    "settings": ("kind", "performed_by"),
    "work_session": ("agent",),
    "conversation": ("subject_id",),
    "customer": ("subject_id",),
}

# Default retention per event type, like the article's product: short-lived activity
# 90 days, changes to billing, settings and users a year.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "authorization": 365,
    "billing": 365,
    "settings": 365,
    "work_session": 90,
    "conversation": 90,
    "customer": 90,
}
SESSION_RETENTION_DAYS = 90
# What an organisation may choose, per event type or for all: at least a day, at most ten
# years (longer than the defaults is allowed: the purge and partition drops honour it).
RETENTION_DAYS_MIN = 1
RETENTION_DAYS_MAX = 3650


def sections_for(event_type: str) -> tuple[Section, ...]:
    return tuple(section for section in SECTIONS if section.event_type == event_type)


def section(name: str) -> Section:
    return SECTIONS_BY_NAME[name]


def kind_subject_type(kind: str) -> str:
    """The subject type of a Kind sub-filter value (`organisation` -> `organization`)."""
    return KIND_SUBJECT_TYPES.get(kind, kind)
