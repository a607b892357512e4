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
    kind: str | None = None  # settings sections: the Kind sub-filter's value


# The product's contract (SPEC §2 and §8.3): the sections the log must have, each with at least
# these actions and properties. The sections themselves are declared by the apps that own them
# (auditlog/declare.py); the system check auditlog.E006 holds the declarations to this table.
# Its order, then event type order, is the order of `sections()`.
SPEC_SECTIONS: tuple[Section, ...] = (
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
    Section("Plan", "billing", ("update",), ("plan",), "organization"),
    Section(
        "Seats",
        "billing",
        ("update",),
        ("full_time_seats", "seasonal_seats", "collaborator_seats"),
        "organization",
    ),
    Section(
        "Search",
        "settings",
        ("create", "update", "delete"),
        ("name", "criteria", "columns"),
        "search",
        kind="search",
    ),
    Section(
        "Shortcut",
        "settings",
        ("create", "update", "delete"),
        ("name", "text", "category"),
        "shortcut",
        kind="shortcut",
    ),
    Section(
        "Business Rule",
        "settings",
        ("create", "update", "delete"),
        ("name", "enabled", "criteria", "actions", "position"),
        "business_rule",
        kind="business_rule",
    ),
    # The organisation's own settings; `retention_days` (metadata.event_type for one type's)
    # is the retention policy the purge applies once the change is sealed.
    Section(
        "Organisation",
        "settings",
        ("update",),
        ("name", "time_zone", "retention_days", "heartbeat_grace_seconds"),
        "organization",
        kind="organisation",
    ),
    Section(
        "Support Access",
        "settings",
        ("create", "update", "delete"),
        ("enabled", "access_level", "expires_at"),
        "support_access",
        kind="support_access",
    ),
    # The scheduled workflows' settings.
    Section("Workflow", "settings", ("update",), (), "workflow", kind="workflow"),
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
        ("status", "assigned_to", "priority", "tags", "queue"),
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


# --------------------------------------------------------------------------- the sections
# Filled by auditlog.declare.register() from the apps' audit.py while the apps load.
_sections: dict[str, Section] = {}
_ordered: tuple[Section, ...] | None = None


def add_section(section: Section) -> None:
    global _ordered
    if section.name in _sections:
        raise ValueError(f"section {section.name!r} is declared twice")
    _sections[section.name] = section
    _ordered = None


def sections_loaded() -> None:
    global _ordered
    spec_order = {spec.name: i for i, spec in enumerate(SPEC_SECTIONS)}
    types = list(EVENT_TYPES)
    registered = list(_sections)
    _ordered = tuple(
        sorted(
            _sections.values(),
            key=lambda s: (
                types.index(s.event_type),
                spec_order.get(s.name, len(spec_order)),
                registered.index(s.name),
            ),
        )
    )


def sections() -> tuple[Section, ...]:
    """Every declared section: by event type, the product's catalog order, then declaration
    order (sealing, verification and retention walk them in this order)."""
    if _ordered is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("The audit sections are declared when the apps are ready.")
    return _ordered


def sections_for(event_type: str) -> tuple[Section, ...]:
    return tuple(section for section in sections() if section.event_type == event_type)


def section(name: str) -> Section:
    """The declared section `name` (KeyError if none)."""
    return _sections[name]


def section_names() -> tuple[str, ...]:
    return tuple(section.name for section in sections())


def settings_kinds() -> dict[str, str]:
    """The Kind sub-filter's values and labels: `{"search": "Search", …}`."""
    return {s.kind: s.name for s in sections() if s.kind}


def kind_subject_type(kind: str) -> str:
    """The subject type of a Kind sub-filter value (`organisation` -> `organization`)."""
    for s in sections():
        if s.kind == kind:
            return s.subject_type
    return kind


def single_subject_type(event_type: str) -> str | None:
    """The subject type all of an event type's sections share, if they share one."""
    types = {s.subject_type for s in sections_for(event_type)}
    return types.pop() if len(types) == 1 else None
