"""What billing records: the plan ("Plan") and the seat counts ("Seats"), about the organisation
(auditlog/declare.py)."""

from accounts.models import Organization
from auditlog.declare import Audited, Nav, register
from billing.models import PLANS, SeatAllocation, Subscription


def _organization_name(row: Subscription | SeatAllocation) -> str:
    name = Organization.objects.filter(pk=row.org_id).values_list("name", flat=True).first()
    return name or f"Organization #{row.org_id}"


register(
    Audited(
        model=Subscription,
        section="Plan",
        event_type="billing",
        subject_type="organization",
        # `create` once, when the organisation is provisioned with its initial plan and seats.
        actions=("create", "update"),
        properties=("plan",),
        subject_name=_organization_name,
        # Shown as the plan's name ("Team"), as people read it on the billing page.
        display={"plan": lambda code: PLANS.get(code, code)},
        nav=Nav(group="Organisation", label="Billing", url_name="billing:billing", order=40),
    ),
    Audited(
        model=SeatAllocation,
        section="Seats",
        event_type="billing",
        subject_type="organization",
        actions=("create", "update"),
        properties=("full_time_seats", "seasonal_seats", "collaborator_seats"),
        subject_name=_organization_name,
    ),
)
