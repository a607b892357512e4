"""Forms for customers, conversations and the close workflow; every choice scoped to the organisation."""

from typing import Any

from django import forms

from accounts.models import User
from conversations.models import Conversation, Customer, WorkflowSettings
from conversations.services import ConversationError, normalize_tags


class TagsField(forms.CharField):
    """Tags typed as comma-separated text, cleaned to the stored list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Comma-separated, e.g. vip, billing")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        try:
            return normalize_tags(text.split(","))
        except ConversationError as problem:
            raise forms.ValidationError(problem.message) from None


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    tags = TagsField()

    @classmethod
    def initial_for(cls, customer: Customer) -> dict[str, Any]:
        return {name: getattr(customer, name) for name in cls.base_fields}


class ConversationForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.all_tenants.none())
    subject = forms.CharField(max_length=300)
    status = forms.ChoiceField(choices=list(Conversation.STATUS_CHOICES.items()))
    snoozed_until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="For snoozed conversations: when to wake.",
    )
    priority = forms.ChoiceField(
        choices=list(Conversation.PRIORITY_CHOICES.items()), initial="normal"
    )
    tags = TagsField()
    queue = forms.CharField(max_length=100, required=False)
    assigned_to = forms.ModelChoiceField(
        queryset=User.all_tenants.none(), required=False, empty_label="Unassigned (queue)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.order_by("name", "id")
        self.fields["assigned_to"].queryset = User.objects.filter(is_active=True).order_by(
            "name", "email"
        )

    @classmethod
    def initial_for(cls, conversation: Conversation) -> dict[str, Any]:
        initial = {name: getattr(conversation, name) for name in cls.base_fields}
        initial["customer"] = conversation.customer_id
        initial["assigned_to"] = conversation.assigned_to_id
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("status") != Conversation.SNOOZED:
            data["snoozed_until"] = None
        return data


class WorkflowSettingsForm(forms.Form):
    enabled = forms.BooleanField(
        required=False,
        label=WorkflowSettings._meta.get_field("enabled").verbose_name.capitalize(),
        help_text=WorkflowSettings._meta.get_field("enabled").help_text,
    )
    idle_days = forms.IntegerField(
        min_value=1,
        max_value=365,
        help_text="Days without activity before an open conversation closes.",
    )
