"""Forms for sign-in, the organisation, users, role groups and API tokens; every choice scoped to
the organisation."""

import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import (
    HEARTBEAT_GRACE_SECONDS_MAX,
    HEARTBEAT_GRACE_SECONDS_MIN,
    ApiToken,
    RoleGroup,
    User,
)
from accounts.permissions import PERMISSIONS
from accounts.selectors import OrganizationSettings
from auditlog import catalog


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        # One message for unknown email and wrong password: never reveal which accounts exist.
        "invalid_login": "That email and password do not match an active account.",
        "inactive": "This account is inactive.",
    }

    def clean_username(self) -> str:
        # Addresses are stored in lower case: "Ada@Acme.test" is the same account, for the
        # password check, the lockout's count and the audit row alike.
        return self.cleaned_data["username"].strip().lower()


class UserForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField()
    phone = forms.CharField(max_length=40, required=False)
    role_group = forms.ModelChoiceField(queryset=RoleGroup.all_tenants.none())
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, instance: User | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": instance.name,
                    "email": instance.email,
                    "phone": instance.phone,
                    "role_group": instance.role_group_id,
                    "is_active": instance.is_active,
                },
            )
        super().__init__(*args, **kwargs)
        self.fields["role_group"].queryset = RoleGroup.objects.all()

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].lower()
        # Sign-in is by email alone, so an address is unique across organisations; the one
        # answer for "taken here" and "taken elsewhere" says nothing about other tenants.
        taken = User.all_tenants.filter(email=email)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("This email address cannot be used; choose another.")
        return email


class NewUserForm(UserForm):
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            # Checked against the new user's own email and name (similarity validator).
            person = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password, person)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="New password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        password_validation.validate_password(password, self.user)
        return password


class RoleGroupForm(forms.Form):
    name = forms.CharField(max_length=100)
    permissions = forms.MultipleChoiceField(
        choices=list(PERMISSIONS.items()), widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args: Any, instance: RoleGroup | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault(
                "initial", {"name": instance.name, "permissions": instance.permissions}
            )
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = RoleGroup.objects.filter(name__iexact=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A role group with this name already exists.")
        return name


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who uses it, e.g. “Zapier” or “SIEM export”.")
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in ApiToken.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(ApiToken.SCOPES),
    )


def _retention_field(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(
        min_value=catalog.RETENTION_DAYS_MIN, max_value=catalog.RETENTION_DAYS_MAX, **kwargs
    )


class OrganisationForm(forms.Form):
    """Settings > Organisation: the organisation's name, time zone, connectivity grace and
    audit retention (a field per event type, `retention_<event type>`)."""

    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(
        choices=[(name, name) for name in sorted(zoneinfo.available_timezones())],
        help_text="Dates on the Audit Log, reports and expiries are shown in this zone.",
    )
    heartbeat_grace_seconds = forms.IntegerField(
        label="Connectivity grace (seconds)",
        min_value=HEARTBEAT_GRACE_SECONDS_MIN,
        max_value=HEARTBEAT_GRACE_SECONDS_MAX,
        help_text="An Available agent whose workspace is silent this long is set Unavailable.",
    )
    retention_days = _retention_field(
        label="Limit for every type (days)",
        help_text="No audit event is kept longer than this, whatever its type.",
    )

    def __init__(self, *args: Any, current: OrganizationSettings, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "name": current.name,
                "time_zone": current.time_zone,
                "heartbeat_grace_seconds": current.heartbeat_grace_seconds,
                "retention_days": current.retention_days,
                **{
                    f"retention_{event_type}": days
                    for event_type, days in current.retention_by_type.items()
                },
            },
        )
        super().__init__(*args, **kwargs)
        self.chosen = current.retention_by_type
        for event_type, label in catalog.EVENT_TYPES.items():
            default = catalog.DEFAULT_RETENTION_DAYS[event_type]
            note = f"Default: {default} days"
            if event_type == "authorization":
                note += f" ({catalog.SESSION_RETENTION_DAYS} for sign-ins)"
            self.fields[f"retention_{event_type}"] = _retention_field(
                label=f"{label} (days)",
                required=False,
                help_text=f"{note}. Leave empty for the default.",
                widget=forms.NumberInput(attrs={"placeholder": str(default)}),
            )

    def organization_fields(self) -> list[forms.BoundField]:
        return [self["name"], self["time_zone"], self["heartbeat_grace_seconds"]]

    def retention_fields(self) -> list[forms.BoundField]:
        return [self["retention_days"]] + [
            self[f"retention_{event_type}"] for event_type in catalog.EVENT_TYPES
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for event_type, days in self.chosen.items():
            name = f"retention_{event_type}"
            if name in cleaned and cleaned[name] is None:
                self.add_error(
                    name, f"Enter a number of days: this type's retention is set ({days} days)."
                )
        return cleaned

    def changes(self) -> dict[str, Any]:
        """The service's keyword arguments: the organisation's values and retention per type."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "time_zone": data["time_zone"],
            "heartbeat_grace_seconds": data["heartbeat_grace_seconds"],
            "retention_days": data["retention_days"],
            "retention_by_type": {
                event_type: data[f"retention_{event_type}"]
                for event_type in catalog.EVENT_TYPES
                if data.get(f"retention_{event_type}") is not None
            },
        }
