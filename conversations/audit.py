"""What conversations records: customers, conversations and the close workflow's settings
(sections "Customer", "Conversation", "Workflow")."""

from accounts.models import User
from auditlog.recorder import track
from conversations.models import Conversation, Customer, WorkflowSettings


def _user_name(user_id: int) -> str:
    user = User.all_tenants.filter(pk=user_id).values("name", "email").first()
    if user is None:
        return f"User #{user_id}"
    return user["name"] or user["email"]


def _customer_name(customer_id: int) -> str:
    customer = Customer.all_tenants.filter(pk=customer_id).values("name", "email").first()
    if customer is None:
        return f"Customer #{customer_id}"
    return customer["name"] or customer["email"]


track(
    Customer,
    section="Customer",
    fields=("name", "email", "phone", "tags"),
    subject_name=lambda customer: str(customer),
)
track(
    Conversation,
    section="Conversation",
    fields=("subject", "customer", "status", "priority", "tags", "queue", "assigned_to"),
    subject_name=lambda conversation: conversation.subject,
    display={"assigned_to": _user_name, "customer": _customer_name},
)
track(
    WorkflowSettings,
    section="Workflow",
    fields=("enabled", "idle_days"),
    subject_name=str,
)
