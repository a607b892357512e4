"""What billing records: the plan ("Plan") and the seat counts ("Seats"), about the organisation."""

from accounts.models import Organization
from auditlog.recorder import track
from billing.models import PLANS, SeatAllocation, Subscription


def _organization_name(row: Subscription | SeatAllocation) -> str:
    name = Organization.objects.filter(pk=row.org_id).values_list("name", flat=True).first()
    return name or f"Organization #{row.org_id}"


track(
    Subscription,
    section="Plan",
    fields=("plan",),
    subject_name=_organization_name,
    # Shown as the plan's name ("Team"), as people read it on the billing page.
    display={"plan": lambda code: PLANS.get(code, code)},
)
track(
    SeatAllocation,
    section="Seats",
    fields=("full_time_seats", "seasonal_seats", "collaborator_seats"),
    subject_name=_organization_name,
)
