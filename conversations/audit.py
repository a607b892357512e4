"""What conversations records: customers, conversations and the close workflow's settings
(auditlog/declare.py)."""

from accounts.models import User
from auditlog.declare import Audited, Nav, register
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


register(
    Audited(
        model=Customer,
        section="Customer",
        event_type="customer",
        subject_type="customer",
        properties=("name", "email", "phone", "tags"),
        subject_name=lambda customer: str(customer),
        edit_url="conversations:customer_edit",
        history="Customer",
    ),
    Audited(
        model=Conversation,
        section="Conversation",
        event_type="conversation",
        subject_type="conversation",
        # assign/unassign: written by conversations/services.py with who was assigned.
        actions=("create", "update", "delete", "assign", "unassign"),
        properties=("subject", "customer", "status", "priority", "tags", "queue", "assigned_to"),
        subject_name=lambda conversation: conversation.subject,
        display={"assigned_to": _user_name, "customer": _customer_name},
        edit_url="conversations:conversation_edit",
        history="Conversation",
    ),
    # The scheduled workflows' settings (the close workflow's switch and idle days).
    Audited(
        model=WorkflowSettings,
        section="Workflow",
        event_type="settings",
        subject_type="workflow",
        kind="workflow",
        properties=("enabled", "idle_days"),
        subject_name=str,
        nav=Nav(
            group="Work", label="Workflows", url_name="conversations:workflow_settings", order=20
        ),
    ),
)
