"""Forms for searches, shortcuts, business rules and support access.

Criteria and actions are edited as JSON text; the form field parses and validates them with
the condition language (settings_app.criteria), so a typo gets a message naming it.
"""

import json
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from settings_app import criteria as language
from settings_app.models import SEARCH_COLUMNS, SavedSearch, SupportAccess


def pretty_json(value: Any) -> str:
    return json.dumps(language.canonical(value), indent=2, ensure_ascii=False)


class JSONTextField(forms.CharField):
    """A textarea holding JSON, checked by `validator` (which parses and normalises it)."""

    def __init__(self, *, validator: Any, rows: int = 10, **kwargs: Any) -> None:
        self.validator = validator
        kwargs.setdefault(
            "widget",
            forms.Textarea(
                attrs={"rows": rows, "class": "json", "spellcheck": "false", "autocomplete": "off"}
            ),
        )
        super().__init__(strip=True, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict | list):
            return pretty_json(value)
        return value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if text in self.empty_values:
            return text
        return self.validator(text)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return super().has_changed(self.prepare_value(initial), data)


def criteria_field(help_text: str) -> JSONTextField:
    return JSONTextField(
        validator=language.validate_criteria,
        label="Criteria (JSON)",
        help_text=help_text,
        rows=12,
    )


class _InstanceForm(forms.Form):
    """A plain form prefilled from a model instance (services do the saving)."""

    instance_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, instance: Any = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial", {name: getattr(instance, name) for name in self.instance_fields}
            )
        super().__init__(*args, **kwargs)


class SavedSearchForm(_InstanceForm):
    instance_fields = ("name", "criteria", "columns")

    name = forms.CharField(max_length=200)
    criteria = criteria_field(
        'Conversations this search finds, e.g. {"match": "all", "conditions": '
        '[{"field": "status", "operator": "equals", "value": "open"}]}.'
    )
    columns = forms.MultipleChoiceField(
        choices=list(SEARCH_COLUMNS.items()), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is None:
            self.initial.setdefault("criteria", language.default_criteria())
            self.initial.setdefault("columns", SavedSearch._meta.get_field("columns").default())

    def clean_columns(self) -> list[str]:
        chosen = set(self.cleaned_data["columns"])
        return [column for column in SEARCH_COLUMNS if column in chosen]


class ShortcutForm(_InstanceForm):
    instance_fields = ("name", "category", "text")

    name = forms.CharField(max_length=200)
    category = forms.CharField(max_length=100, required=False, help_text="e.g. Billing, Returns.")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}))


class BusinessRuleForm(_InstanceForm):
    instance_fields = ("name", "enabled", "position", "criteria", "actions")

    name = forms.CharField(max_length=200)
    enabled = forms.BooleanField(required=False, initial=True)
    position = forms.IntegerField(
        min_value=0,
        required=False,
        help_text="Rules run in ascending position. Leave empty to run after the others.",
    )
    criteria = criteria_field(
        "When a conversation is created or updated and these conditions match, the actions apply."
    )
    actions = JSONTextField(
        validator=language.validate_actions,
        label="Actions (JSON)",
        rows=8,
        help_text='e.g. [{"type": "set_priority", "value": "high"}, '
        '{"type": "add_tag", "value": "vip"}].',
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance is None:
            self.initial.setdefault("criteria", language.default_criteria())
            self.initial.setdefault("actions", [{"type": "set_priority", "value": "high"}])


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class SupportAccessForm(_InstanceForm):
    """Grant or change access; the expiry is typed in the organisation's time zone."""

    instance_fields = ("access_level", "expires_at", "reason", "enabled")

    access_level = forms.ChoiceField(choices=list(SupportAccess.ACCESS_LEVELS.items()))
    expires_at = forms.DateTimeField(
        label="Expires at",
        widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    reason = forms.CharField(
        max_length=200, required=False, help_text="Why support needs access, e.g. a ticket number."
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def __init__(self, *args: Any, time_zone: Any, **kwargs: Any) -> None:
        self.time_zone = time_zone
        super().__init__(*args, **kwargs)
        if self.instance is None:
            del self.fields["enabled"]  # a new grant is always enabled
            self.initial.setdefault("expires_at", timezone.now() + timedelta(days=7))
        if self.initial.get("expires_at"):
            self.initial["expires_at"] = timezone.localtime(
                self.initial["expires_at"], self.time_zone
            ).replace(tzinfo=None)

    def clean_expires_at(self) -> datetime:
        value = self.cleaned_data["expires_at"]
        # Django made it aware in the server's zone; the person meant their organisation's.
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        try:
            aware = timezone.make_aware(naive, self.time_zone)
        except (ValueError, OverflowError) as problem:
            raise ValidationError("That time does not exist in your time zone.") from problem
        return aware
