"""Sign-in pages and Settings > Organisation, Users, Role Groups and Security > API Tokens."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.decorators import administrator_required, org_permission_required
from accounts.forms import (
    ApiTokenForm,
    EmailAuthenticationForm,
    NewUserForm,
    OrganisationForm,
    PasswordForm,
    RoleGroupForm,
    UserForm,
)
from accounts.models import ApiToken, Organization, RoleGroup, User
from accounts.permissions import PERMISSIONS, ChangeRefused


class LoginView(auth_views.LoginView):
    authentication_form = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def lockout_response(
    request: HttpRequest, credentials: Any, *args: Any, **kwargs: Any
) -> HttpResponse:
    unlock_at = timezone.localtime(timezone.now() + settings.AXES_COOLOFF_TIME)
    form = EmailAuthenticationForm(request)
    form.data = request.POST
    return render(
        request,
        "accounts/login.html",
        {"form": form, "locked_until": unlock_at},
        status=429,
    )


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if getattr(request.user, "org_id", None) is None:
        return redirect("/django-admin/")
    return render(request, "home.html")


@org_permission_required("users.manage")
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "settings/index.html")


def _refused(form: forms.Form, problem: ChangeRefused) -> None:
    """Show a service's refusal on the field it concerns, or above the form."""
    form.add_error(problem.field if problem.field in form.fields else None, problem.message)


@administrator_required
def organization_settings(request: HttpRequest) -> HttpResponse:
    org = Organization.objects.get(pk=request.user.org_id)
    form = OrganisationForm(request.POST or None, current=selectors.organization_settings(org))
    if request.method == "POST" and form.is_valid():
        if not form.has_changed():
            messages.info(request, "Nothing to change.")
            return redirect("accounts:organization")
        try:
            services.organization_settings_update(org=org, **form.changes())
        except ValidationError as problem:
            form.add_error(None, problem)
        except ChangeRefused as problem:
            _refused(form, problem)
        else:
            messages.success(request, "Saved the organisation's settings.")
            return redirect("accounts:organization")
    return render(
        request,
        "settings/organisation.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def _users_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    users = User.objects.select_related("role_group").order_by("name", "email")
    return render(request, "settings/users.html", {"users": users}, status=status)


@org_permission_required("users.manage")
def user_list(request: HttpRequest) -> HttpResponse:
    return _users_page(request)


@org_permission_required("users.manage")
def user_create(request: HttpRequest) -> HttpResponse:
    form = NewUserForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(**form.cleaned_data)
        except ChangeRefused as problem:
            _refused(form, problem)
            status = 400
        else:
            messages.success(request, f"Created {user}.")
            return redirect("accounts:users")
    return render(
        request,
        "settings/form.html",
        {"form": form, "title": "New user", "back": "accounts:users"},
        status=status,
    )


@org_permission_required("users.manage")
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User.objects, pk=pk)
    form = UserForm(request.POST or None, instance=user)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(user=user, **form.cleaned_data)
        except ChangeRefused as problem:
            _refused(form, problem)
            status = 400
        else:
            messages.success(request, f"Saved {user}.")
            return redirect("accounts:users")
    password_form = PasswordForm()
    return render(
        request,
        "settings/user_edit.html",
        {"form": form, "password_form": password_form, "subject": user, "title": f"Edit {user}"},
        status=status,
    )


@org_permission_required("users.manage")
@require_POST
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User.objects, pk=pk)
    form = PasswordForm(request.POST, user=user)
    if form.is_valid():
        try:
            services.user_set_password(user=user, password=form.cleaned_data["password"])
        except ChangeRefused as problem:
            _refused(form, problem)
        else:
            messages.success(request, f"Password changed for {user}.")
            return redirect("accounts:users")
    return render(
        request,
        "settings/user_edit.html",
        {
            "form": UserForm(instance=user),
            "password_form": form,
            "subject": user,
            "title": f"Edit {user}",
        },
        status=400,
    )


@org_permission_required("users.manage")
@require_POST
def user_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User.objects, pk=pk)
    try:
        services.user_delete(user=user)
    except ChangeRefused as problem:
        messages.error(request, problem.message)
        return _users_page(request, status=400)
    messages.success(request, f"Deleted {user}.")
    return redirect("accounts:users")


def _role_groups_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    groups = RoleGroup.objects.order_by("name")
    return render(
        request,
        "settings/role_groups.html",
        {"groups": groups, "permissions": PERMISSIONS},
        status=status,
    )


@org_permission_required("users.manage")
def role_group_list(request: HttpRequest) -> HttpResponse:
    return _role_groups_page(request)


@org_permission_required("users.manage")
def role_group_create(request: HttpRequest) -> HttpResponse:
    form = RoleGroupForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            group = services.role_group_create(**form.cleaned_data)
        except ChangeRefused as problem:
            _refused(form, problem)
            status = 400
        else:
            messages.success(request, f"Created role group {group}.")
            return redirect("accounts:role_groups")
    return render(
        request,
        "settings/form.html",
        {"form": form, "title": "New role group", "back": "accounts:role_groups"},
        status=status,
    )


@org_permission_required("users.manage")
def role_group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(RoleGroup.objects, pk=pk)
    form = RoleGroupForm(request.POST or None, instance=group)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.role_group_update(group=group, **form.cleaned_data)
        except ChangeRefused as problem:
            _refused(form, problem)
            status = 400
        else:
            messages.success(request, f"Saved role group {group}.")
            return redirect("accounts:role_groups")
    return render(
        request,
        "settings/form.html",
        {
            "form": form,
            "title": f"Edit role group {group}",
            "back": "accounts:role_groups",
            "subject": group,
        },
        status=status,
    )


@org_permission_required("users.manage")
@require_POST
def role_group_delete(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(RoleGroup.objects, pk=pk)
    try:
        services.role_group_delete(group=group)
    except ChangeRefused as problem:
        messages.error(request, problem.message)
        return _role_groups_page(request, status=400)
    messages.success(request, f"Deleted role group {group}.")
    return redirect("accounts:role_groups")


@org_permission_required("tokens.manage")
def api_token_list(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.api_token_create(created_by=request.user, **form.cleaned_data)
        except ChangeRefused as problem:
            _refused(form, problem)
        else:
            # Rendered once, never stored or redirected through a URL.
            tokens = ApiToken.objects.select_related("created_by")
            return render(
                request,
                "settings/api_tokens.html",
                {"form": ApiTokenForm(), "tokens": tokens, "new_token": token, "secret": secret},
                status=201,
            )
    tokens = ApiToken.objects.select_related("created_by")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "settings/api_tokens.html", {"form": form, "tokens": tokens}, status=status
    )


@org_permission_required("tokens.manage")
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects, pk=pk)
    services.api_token_revoke(token=token)
    messages.success(request, f"Revoked token {token.name}.")
    return redirect("accounts:api_tokens")
