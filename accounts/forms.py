"""Forms for sign-in, users, role groups and API tokens; every choice scoped to the organisation."""

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import ApiToken, RoleGroup, User
from accounts.permissions import PERMISSIONS


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
