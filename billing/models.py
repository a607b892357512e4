"""An organisation's subscription: its plan and its seat counts.

Plan and seats are two models because they are two sections of the audit log ("Plan" and
"Seats"): one save of the billing page that changes both yields rows in each section.
Both are keyed by the organisation itself, so an audit row's subject id is the
organisation's id (subject_type "organization").
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from auditlog.recorder import AuditedTenantModel

STARTER, TEAM, BUSINESS, ENTERPRISE = "starter", "team", "business", "enterprise"
PLANS: dict[str, str] = {
    STARTER: "Starter",
    TEAM: "Team",
    BUSINESS: "Business",
    ENTERPRISE: "Enterprise",
}
DEFAULT_PLAN = STARTER

MAX_SEATS = 10_000
DEFAULT_FULL_TIME_SEATS = 5

# The seat each active user occupies follows their role group's name: a group named
# "Seasonal" takes seasonal seats, "Collaborator" collaborator seats, every other group
# (Administrator, Agent, custom groups) full-time seats.
FULL_TIME, SEASONAL, COLLABORATOR = "full_time", "seasonal", "collaborator"
SEAT_KINDS: dict[str, str] = {
    FULL_TIME: "Full-time",
    SEASONAL: "Seasonal",
    COLLABORATOR: "Collaborator",
}
SEAT_KIND_BY_ROLE_GROUP: dict[str, str] = {"seasonal": SEASONAL, "collaborator": COLLABORATOR}


def _seats_field(default: int = 0) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        default=default, validators=[MinValueValidator(0), MaxValueValidator(MAX_SEATS)]
    )


class Subscription(AuditedTenantModel):
    """The organisation's plan."""

    org = models.OneToOneField(
        "accounts.Organization",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="subscription",
    )
    plan = models.CharField(max_length=20, choices=list(PLANS.items()), default=DEFAULT_PLAN)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return PLANS.get(self.plan, self.plan)


class SeatAllocation(AuditedTenantModel):
    """How many seats of each kind the organisation pays for."""

    org = models.OneToOneField(
        "accounts.Organization",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="seat_allocation",
    )
    full_time_seats = _seats_field(DEFAULT_FULL_TIME_SEATS)
    seasonal_seats = _seats_field()
    collaborator_seats = _seats_field()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return (
            f"{self.full_time_seats} full-time, {self.seasonal_seats} seasonal, "
            f"{self.collaborator_seats} collaborator"
        )

    def seats(self, kind: str) -> int:
        return getattr(self, f"{kind}_seats")
