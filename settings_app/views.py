"""Settings pages for Administrators: searches, shortcuts, business rules and support access.

Views are thin: a form parses the input, a service makes the change (and the recorder its
rows). Invalid input re-renders the form with its errors and status 400; another
organisation's id is a 404 because every lookup goes through the scoped manager.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from accounts.decorators import org_permission_required
from accounts.models import User
from settings_app import criteria as language
from settings_app import selectors, services
from settings_app.forms import BusinessRuleForm, SavedSearchForm, ShortcutForm, SupportAccessForm
from settings_app.models import (
    SEARCH_COLUMNS,
    BusinessRule,
    Macro,
    SavedSearch,
    Shortcut,
    SupportAccess,
)

PERMISSION = "settings.manage"


def _submit(form: Form, save: Callable[[dict[str, Any]], Any]) -> Any | None:
    """Validate the form, then run the service; a service's ValidationError lands on the form."""
    if not form.is_valid():
        return None
    try:
        return save(form.cleaned_data)
    except ValidationError as problem:
        form.add_error(None, problem)
        return None


def _form_page(
    request: HttpRequest,
    form: Form,
    *,
    title: str,
    back: str,
    template: str = "settings/form.html",
    **extra: Any,
) -> HttpResponse:
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "title": title, "back": back, **extra}
    return render(request, template, context, status=status)


def _confirm_delete(
    request: HttpRequest, obj: Model, *, kind: str, back: str, delete: Callable[[], None]
) -> HttpResponse:
    if request.method == "POST":
        name = str(obj)  # before the delete clears its id
        delete()
        messages.success(request, f"Deleted {kind} “{name}”.")
        return redirect(back)
    return render(
        request, "settings/confirm_delete.html", {"object": obj, "kind": kind, "back": back}
    )


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a settings list: its heading and how to read a cell off an object."""

    label: str
    value: Callable[[Any], Any]


def _object_list(
    request: HttpRequest,
    objects: Iterable[Model],
    *,
    title: str,
    columns: Sequence[Column],
    url_prefix: str,
    history: str | None,
    create_label: str,
    empty: str,
    intro: str = "",
) -> HttpResponse:
    """A settings list page (templates/settings/object_list.html): the first column links to
    the object's page (`<url_prefix>_edit`), then History (`history` is its subject type) and
    Delete (`<url_prefix>_delete`); a button leads to `<url_prefix>_create`."""
    first, *rest = columns
    rows = [
        {
            "name": first.value(obj),
            "edit_url": reverse(f"{url_prefix}_edit", args=[obj.pk]),
            "cells": [column.value(obj) for column in rest],
            "history_url": reverse("audit_history", args=[history, obj.pk]) if history else None,
            "delete_url": reverse(f"{url_prefix}_delete", args=[obj.pk]),
        }
        for obj in objects
    ]
    context = {
        "title": title,
        "intro": intro,
        "columns": [column.label for column in columns],
        "rows": rows,
        "create_url": reverse(f"{url_prefix}_create"),
        "create_label": create_label,
        "empty": empty,
    }
    return render(request, "settings/object_list.html", context)


def _language_reference() -> dict[str, Any]:
    """What the JSON editors may contain, shown beside them and used by the structured editor."""
    return {
        "fields": language.FIELDS.values(),
        "operators": language.OPERATORS,
        "operators_by_kind": language.OPERATORS_BY_KIND,
        "action_types": language.ACTION_TYPES,
        "language_json": {
            "fields": {
                name: {"label": field.label, "kind": field.kind, "choices": list(field.choices)}
                for name, field in language.FIELDS.items()
            },
            "operators": language.OPERATORS,
            "operators_by_kind": language.OPERATORS_BY_KIND,
            "valueless": sorted(language.VALUELESS_OPERATORS),
            "actions": language.ACTION_TYPES,
            "priorities": list(language.PRIORITIES),
            "users": [
                {"id": user.pk, "name": str(user)}
                for user in User.objects.filter(is_active=True).order_by("name", "email")
            ],
        },
    }


# Searches ------------------------------------------------------------------------------------


@org_permission_required(PERMISSION)
def search_list(request: HttpRequest) -> HttpResponse:
    searches = [
        (
            search,
            language.describe_criteria(search.criteria),
            [SEARCH_COLUMNS.get(column, column) for column in search.columns],
        )
        for search in selectors.saved_searches()
    ]
    return render(request, "settings/searches.html", {"searches": searches})


@org_permission_required(PERMISSION)
def search_create(request: HttpRequest) -> HttpResponse:
    form = SavedSearchForm(request.POST or None)
    if request.method == "POST":
        search = _submit(form, lambda data: services.search_create(**data))
        if search is not None:
            messages.success(request, f"Created search “{search}”.")
            return redirect("settings_app:searches")
    return _form_page(
        request,
        form,
        title="New search",
        back="settings_app:searches",
        template="settings/criteria_form.html",
        **_language_reference(),
    )


@org_permission_required(PERMISSION)
def search_edit(request: HttpRequest, pk: int) -> HttpResponse:
    search = get_object_or_404(SavedSearch.objects, pk=pk)
    form = SavedSearchForm(request.POST or None, instance=search)
    if request.method == "POST":
        saved = _submit(form, lambda data: services.search_update(search=search, **data))
        if saved is not None:
            messages.success(request, f"Saved search “{saved}”.")
            return redirect("settings_app:searches")
    return _form_page(
        request,
        form,
        title=f"Edit search “{search}”",
        back="settings_app:searches",
        template="settings/criteria_form.html",
        subject=search,
        delete_url="settings_app:search_delete",
        **_language_reference(),
    )


@org_permission_required(PERMISSION)
def search_delete(request: HttpRequest, pk: int) -> HttpResponse:
    search = get_object_or_404(SavedSearch.objects, pk=pk)
    return _confirm_delete(
        request,
        search,
        kind="search",
        back="settings_app:searches",
        delete=lambda: services.search_delete(search=search),
    )


# Shortcuts -----------------------------------------------------------------------------------


@org_permission_required(PERMISSION)
def shortcut_list(request: HttpRequest) -> HttpResponse:
    return _object_list(
        request,
        selectors.shortcuts(),
        title="Shortcuts",
        intro="Canned replies agents insert into conversations.",
        columns=(
            Column("Name", lambda shortcut: shortcut.name),
            Column("Category", lambda shortcut: shortcut.category),
            Column("Text", lambda shortcut: Truncator(shortcut.text).chars(120)),
        ),
        url_prefix="settings_app:shortcut",
        history="shortcut",
        create_label="New shortcut",
        empty="No shortcuts yet.",
    )


@org_permission_required(PERMISSION)
def shortcut_create(request: HttpRequest) -> HttpResponse:
    form = ShortcutForm(request.POST or None)
    if request.method == "POST":
        shortcut = _submit(form, lambda data: services.shortcut_create(**data))
        if shortcut is not None:
            messages.success(request, f"Created shortcut “{shortcut}”.")
            return redirect("settings_app:shortcuts")
    return _form_page(request, form, title="New shortcut", back="settings_app:shortcuts")


@org_permission_required(PERMISSION)
def shortcut_edit(request: HttpRequest, pk: int) -> HttpResponse:
    shortcut = get_object_or_404(Shortcut.objects, pk=pk)
    form = ShortcutForm(request.POST or None, instance=shortcut)
    if request.method == "POST":
        saved = _submit(form, lambda data: services.shortcut_update(shortcut=shortcut, **data))
        if saved is not None:
            messages.success(request, f"Saved shortcut “{saved}”.")
            return redirect("settings_app:shortcuts")
    return _form_page(
        request,
        form,
        title=f"Edit shortcut “{shortcut}”",
        back="settings_app:shortcuts",
        subject=shortcut,
    )


@org_permission_required(PERMISSION)
def shortcut_delete(request: HttpRequest, pk: int) -> HttpResponse:
    shortcut = get_object_or_404(Shortcut.objects, pk=pk)
    return _confirm_delete(
        request,
        shortcut,
        kind="shortcut",
        back="settings_app:shortcuts",
        delete=lambda: services.shortcut_delete(shortcut=shortcut),
    )


# Business rules ------------------------------------------------------------------------------


@org_permission_required(PERMISSION)
def business_rule_list(request: HttpRequest) -> HttpResponse:
    user_names = {user.pk: str(user) for user in User.objects.all()}
    rules = [
        (
            rule,
            language.describe_criteria(rule.criteria),
            [language.describe_action(action, user_names) for action in rule.actions],
        )
        for rule in selectors.business_rules()
    ]
    return render(request, "settings/business_rules.html", {"rules": rules})


@org_permission_required(PERMISSION)
def business_rule_create(request: HttpRequest) -> HttpResponse:
    form = BusinessRuleForm(request.POST or None)
    if request.method == "POST":
        rule = _submit(form, lambda data: services.business_rule_create(**data))
        if rule is not None:
            messages.success(request, f"Created business rule “{rule}”.")
            return redirect("settings_app:business_rules")
    return _form_page(
        request,
        form,
        title="New business rule",
        back="settings_app:business_rules",
        template="settings/criteria_form.html",
        **_language_reference(),
    )


@org_permission_required(PERMISSION)
def business_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(BusinessRule.objects, pk=pk)
    form = BusinessRuleForm(request.POST or None, instance=rule)
    if request.method == "POST":

        def save(data: dict[str, Any]) -> BusinessRule:
            # An emptied position keeps the rule where it is.
            position = data.pop("position")
            return services.business_rule_update(
                rule=rule, position=rule.position if position is None else position, **data
            )

        saved = _submit(form, save)
        if saved is not None:
            messages.success(request, f"Saved business rule “{saved}”.")
            return redirect("settings_app:business_rules")
    return _form_page(
        request,
        form,
        title=f"Edit business rule “{rule}”",
        back="settings_app:business_rules",
        template="settings/criteria_form.html",
        subject=rule,
        delete_url="settings_app:business_rule_delete",
        **_language_reference(),
    )


@org_permission_required(PERMISSION)
@require_POST
def business_rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(BusinessRule.objects, pk=pk)
    services.business_rule_update(rule=rule, enabled=not rule.enabled)
    messages.success(
        request, f"{'Enabled' if rule.enabled else 'Disabled'} business rule “{rule}”."
    )
    return redirect("settings_app:business_rules")


@org_permission_required(PERMISSION)
def business_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(BusinessRule.objects, pk=pk)
    return _confirm_delete(
        request,
        rule,
        kind="business rule",
        back="settings_app:business_rules",
        delete=lambda: services.business_rule_delete(rule=rule),
    )


# Support access ------------------------------------------------------------------------------


@org_permission_required(PERMISSION)
def support_access_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "settings/support_access.html", {"grants": selectors.support_access_grants()}
    )


@org_permission_required(PERMISSION)
def support_access_grant(request: HttpRequest) -> HttpResponse:
    form = SupportAccessForm(request.POST or None, time_zone=request.user.org.tz)
    if request.method == "POST":
        grant = _submit(form, lambda data: services.support_access_grant(**data))
        if grant is not None:
            messages.success(request, "Support access granted.")
            return redirect("settings_app:support_access")
    return _form_page(
        request, form, title="Grant support access", back="settings_app:support_access"
    )


@org_permission_required(PERMISSION)
def support_access_edit(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(SupportAccess.objects, pk=pk)
    form = SupportAccessForm(request.POST or None, instance=grant, time_zone=request.user.org.tz)
    if request.method == "POST":
        saved = _submit(form, lambda data: services.support_access_update(grant=grant, **data))
        if saved is not None:
            messages.success(request, "Support access saved.")
            return redirect("settings_app:support_access")
    return _form_page(
        request,
        form,
        title=f"Edit support access “{grant}”",
        back="settings_app:support_access",
        subject=grant,
    )


@org_permission_required(PERMISSION)
@require_POST
def support_access_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(SupportAccess.objects, pk=pk)
    services.support_access_revoke(grant=grant)
    messages.success(request, f"Revoked support access “{grant}”.")
    return redirect("settings_app:support_access")


@org_permission_required(PERMISSION)
def support_access_delete(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(SupportAccess.objects, pk=pk)
    return _confirm_delete(
        request,
        grant,
        kind="support access",
        back="settings_app:support_access",
        delete=lambda: services.support_access_delete(grant=grant),
    )


# Macros --------------------------------------------------------------------------------------


class MacroForm(forms.Form):
    name = forms.CharField(max_length=200)
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), help_text="The reply it adds."
    )
    tags = forms.CharField(
        max_length=500, required=False, help_text="Tags it adds, separated by commas."
    )

    def __init__(self, data: Any = None, *, instance: Macro | None = None) -> None:
        initial = (
            {"name": instance.name, "text": instance.text, "tags": ", ".join(instance.tags)}
            if instance
            else None
        )
        super().__init__(data, initial=initial)


@org_permission_required(PERMISSION)
def macro_list(request: HttpRequest) -> HttpResponse:
    return _object_list(
        request,
        Macro.objects.order_by("name", "id"),
        title="Macros",
        intro="What agents apply to a conversation in one click: a reply and tags.",
        columns=(
            Column("Name", lambda macro: macro.name),
            Column("Tags", lambda macro: ", ".join(macro.tags)),
            Column("Reply", lambda macro: Truncator(macro.text).chars(120)),
        ),
        url_prefix="settings_app:macro",
        history="macro",
        create_label="New macro",
        empty="No macros yet.",
    )


@org_permission_required(PERMISSION)
def macro_create(request: HttpRequest) -> HttpResponse:
    form = MacroForm(request.POST or None)
    if request.method == "POST":
        macro = _submit(form, lambda data: services.macro_create(**data))
        if macro is not None:
            messages.success(request, f"Created macro “{macro}”.")
            return redirect("settings_app:macros")
    return _form_page(request, form, title="New macro", back="settings_app:macros")


@org_permission_required(PERMISSION)
def macro_edit(request: HttpRequest, pk: int) -> HttpResponse:
    macro = get_object_or_404(Macro.objects, pk=pk)
    form = MacroForm(request.POST or None, instance=macro)
    if request.method == "POST":
        saved = _submit(form, lambda data: services.macro_update(macro=macro, **data))
        if saved is not None:
            messages.success(request, f"Saved macro “{saved}”.")
            return redirect("settings_app:macros")
    return _form_page(
        request, form, title=f"Edit macro “{macro}”", back="settings_app:macros", subject=macro
    )


@org_permission_required(PERMISSION)
def macro_delete(request: HttpRequest, pk: int) -> HttpResponse:
    macro = get_object_or_404(Macro.objects, pk=pk)
    return _confirm_delete(
        request,
        macro,
        kind="macro",
        back="settings_app:macros",
        delete=lambda: services.macro_delete(macro=macro),
    )
