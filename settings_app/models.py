"""An organisation's settings: saved searches, shortcuts, business rules and support access grants."""

from django.db import models
from django.utils import timezone

from auditlog.recorder import AuditedTenantModel
from settings_app.criteria import default_criteria

# Columns a saved search can show, in the order offered.
SEARCH_COLUMNS: dict[str, str] = {
    "subject": "Subject",
    "customer": "Customer",
    "status": "Status",
    "priority": "Priority",
    "queue": "Queue",
    "tags": "Tags",
    "assigned_to": "Assigned to",
    "created_at": "Created",
    "updated_at": "Updated",
}
DEFAULT_SEARCH_COLUMNS: list[str] = ["subject", "customer", "status", "priority", "assigned_to"]


def default_search_columns() -> list[str]:
    return list(DEFAULT_SEARCH_COLUMNS)


class SavedSearch(AuditedTenantModel):
    """A named conversation search (criteria in the condition language) and its columns."""

    name = models.CharField(max_length=200)
    criteria = models.JSONField(default=default_criteria)
    columns = models.JSONField(default=default_search_columns)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="savedsearch_unique_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class Shortcut(AuditedTenantModel):
    """A canned reply agents insert into conversations."""

    name = models.CharField(max_length=200)
    text = models.TextField()
    category = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="shortcut_unique_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class BusinessRule(AuditedTenantModel):
    """When a conversation is created or updated and `criteria` match, apply `actions`.

    Enabled rules run in (position, id) order; see settings_app.selectors.business_rules_enabled.
    """

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    criteria = models.JSONField(default=default_criteria)
    actions = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="businessrule_unique_name_per_org")
        ]
        indexes = [
            models.Index(fields=["org", "enabled", "position"], name="businessrule_enabled_order")
        ]

    def __str__(self) -> str:
        return self.name


class SupportAccess(AuditedTenantModel):
    """A grant letting the vendor's support staff into this organisation until `expires_at`.

    Revoking sets `enabled` to false (an `update` row), so the grant's history stays listed;
    so does its expiry, by `system` (settings_app.tasks); deleting removes the record itself
    (a `delete` row).
    """

    READ_ONLY = "read_only"
    FULL = "full"
    ACCESS_LEVELS: dict[str, str] = {READ_ONLY: "Read only", FULL: "Full access"}

    enabled = models.BooleanField(default=True)
    access_level = models.CharField(
        max_length=20, choices=list(ACCESS_LEVELS.items()), default=READ_ONLY
    )
    expires_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.reason or f"Support access #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.enabled and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        # Expired before Revoked: the expiry task disables a grant when it expires.
        if self.expires_at <= timezone.now():
            return "Expired"
        return "Active" if self.enabled else "Revoked"


class Macro(AuditedTenantModel):
    """What an agent applies to a conversation in one click: a reply and tags to add."""

    name = models.CharField(max_length=200)
    text = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="macro_unique_name_per_org")
        ]

    def __str__(self) -> str:
        return self.name


class SavedView(AuditedTenantModel):
    """A named Audit Log search (the search language): one person's, or shared with every
    Administrator of the organisation."""

    name = models.CharField(max_length=200)
    query = models.TextField()
    shared = models.BooleanField(default=False)
    # Who keeps it; None for one made with an API token (always shared).
    owner = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        # Enforced with the organisation: FOREIGN KEY (org_id, owner_id) (migration 0003).
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
