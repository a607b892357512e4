"""The permissions a role group can hold, and the two groups every organisation starts with."""

PERMISSIONS: dict[str, str] = {
    "audit.view": "View the system audit log",
    "audit.export": "Export the system audit log",
    "users.manage": "Manage users and role groups",
    "tokens.manage": "Manage API tokens",
    "billing.manage": "Manage plan and seats",
    "settings.manage": "Manage searches, shortcuts, business rules and support access",
    "routing.manage": "Assign conversations and set agent capacity",
    "conversations.work": "Work conversations and customers",
}

ADMINISTRATOR = "Administrator"
AGENT = "Agent"

DEFAULT_ROLE_GROUPS: dict[str, list[str]] = {
    ADMINISTRATOR: sorted(PERMISSIONS),
    AGENT: ["conversations.work"],
}
