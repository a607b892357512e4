"""Customers and the conversations agents work on, plus each organisation's idle-close workflow."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from auditlog.recorder import AuditedTenantModel
from settings_app.criteria import PRIORITIES, STATUSES


class Customer(AuditedTenantModel):
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["org", "email"], name="customer_org_email")]
        # What conversations' (org_id, customer_id) foreign key points at.
        constraints = [models.UniqueConstraint(fields=["org", "id"], name="customer_org_id")]

    def __str__(self) -> str:
        return self.name or self.email or f"Customer #{self.pk}"


class Conversation(AuditedTenantModel):
    OPEN, SNOOZED, DONE = STATUSES
    STATUS_CHOICES: dict[str, str] = {OPEN: "Open", SNOOZED: "Snoozed", DONE: "Done"}
    PRIORITY_CHOICES: dict[str, str] = {p: p.capitalize() for p in PRIORITIES}

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="conversations",
        # Enforced with the organisation: FOREIGN KEY (org_id, customer_id) (tenant_keys migration).
        db_constraint=False,
    )
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=list(STATUS_CHOICES.items()), default=OPEN)
    priority = models.CharField(
        max_length=16, choices=list(PRIORITY_CHOICES.items()), default="normal"
    )
    tags = models.JSONField(default=list, blank=True)
    queue = models.CharField(max_length=100, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
        # Enforced with the organisation: FOREIGN KEY (org_id, assigned_to_id) (tenant_keys).
        db_constraint=False,
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        indexes = [
            # The router's queue and an agent's load are both read by (org, status, assignee).
            models.Index(fields=["org", "status", "assigned_to"], name="conversation_routing"),
            models.Index(fields=["org", "status", "last_activity_at"], name="conversation_idle"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def status_label(self) -> str:
        return self.STATUS_CHOICES.get(self.status, self.status)


class WorkflowSettings(AuditedTenantModel):
    """The organisation's scheduled workflow that closes idle and overslept conversations."""

    enabled = models.BooleanField(
        default=True,
        verbose_name="Close conversations automatically",
        help_text="Close open conversations idle for the days below, and snoozed ones past their wake time.",
    )
    idle_days = models.PositiveSmallIntegerField(
        default=7, help_text="Close open conversations with no activity for this many days."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="workflowsettings_one_per_org")]

    def __str__(self) -> str:
        return "Close idle conversations"
