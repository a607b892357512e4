"""Pages to list, create, edit and delete customers and conversations, and the close workflow setting."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import org_permission_required
from conversations import services
from conversations.forms import ConversationForm, CustomerForm, WorkflowSettingsForm
from conversations.models import Conversation, Customer

PAGE_SIZE = 50


def _page(request: HttpRequest, queryset: Any) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _form_page(
    request: HttpRequest,
    form: forms.Form,
    *,
    title: str,
    back: str,
    delete_url: str = "",
    history_url: str = "",
) -> HttpResponse:
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "conversations/form.html",
        {
            "form": form,
            "title": title,
            "back": back,
            "delete_url": delete_url,
            "history_url": history_url,
        },
        status=status,
    )


def _apply_error(form: forms.Form, problem: services.ConversationError) -> None:
    form.add_error(problem.field if problem.field in form.fields else None, problem.message)


# Customers ----------------------------------------------------------------------------------


@org_permission_required("conversations.work")
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    customers = Customer.objects.order_by("name", "id")
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(email__icontains=query))
    return render(
        request, "conversations/customer_list.html", {"page": _page(request, customers), "q": query}
    )


@org_permission_required("conversations.work")
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(**form.cleaned_data)
        except services.ConversationError as problem:
            _apply_error(form, problem)
        else:
            messages.success(request, f"Created customer {customer}.")
            return redirect("conversations:customers")
    return _form_page(request, form, title="New customer", back="conversations:customers")


@org_permission_required("conversations.work")
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects, pk=pk)
    form = CustomerForm(request.POST or None, initial=CustomerForm.initial_for(customer))
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(customer=customer, **form.cleaned_data)
        except services.ConversationError as problem:
            _apply_error(form, problem)
        else:
            messages.success(request, f"Saved customer {customer}.")
            return redirect("conversations:customers")
    conversations = Conversation.objects.filter(customer=customer).select_related("assigned_to")
    return render(
        request,
        "conversations/customer_edit.html",
        {
            "form": form,
            "title": f"Customer {customer}",
            "subject": customer,
            "conversations": conversations,
        },
        status=400 if request.method == "POST" else 200,
    )


@org_permission_required("conversations.work")
@require_POST
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects, pk=pk)
    services.customer_delete(customer=customer)
    messages.success(request, f"Deleted customer {customer} and their conversations.")
    return redirect("conversations:customers")


# Conversations ------------------------------------------------------------------------------

ASSIGNED_FILTERS = {"mine": "Assigned to me", "unassigned": "Unassigned", "": "Anyone"}


@org_permission_required("conversations.work")
def conversation_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    assigned = request.GET.get("assigned", "")
    query = request.GET.get("q", "").strip()[:200]
    conversations = Conversation.objects.select_related("customer", "assigned_to")
    if status in Conversation.STATUS_CHOICES:
        conversations = conversations.filter(status=status)
    if assigned == "mine":
        conversations = conversations.filter(assigned_to_id=request.user.pk)
    elif assigned == "unassigned":
        conversations = conversations.filter(assigned_to__isnull=True)
    if query:
        conversations = conversations.filter(
            Q(subject__icontains=query) | Q(customer__name__icontains=query)
        )
    return render(
        request,
        "conversations/conversation_list.html",
        {
            "page": _page(request, conversations),
            "statuses": Conversation.STATUS_CHOICES,
            "assigned_filters": ASSIGNED_FILTERS,
            "status": status,
            "assigned": assigned,
            "q": query,
        },
    )


def _may_exceed_capacity(request: HttpRequest) -> bool:
    return request.user.has_org_perm("routing.manage")


@org_permission_required("conversations.work")
def conversation_create(request: HttpRequest) -> HttpResponse:
    initial = {"status": Conversation.OPEN, "priority": "normal"}
    if request.GET.get("customer", "").isdigit():
        initial["customer"] = int(request.GET["customer"])
    form = ConversationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            conversation = services.conversation_create(
                **form.cleaned_data, allow_over_capacity=_may_exceed_capacity(request)
            )
        except services.ConversationError as problem:
            _apply_error(form, problem)
        else:
            messages.success(request, f"Created conversation “{conversation}”.")
            return redirect("conversations:conversation_edit", conversation.pk)
    return _form_page(request, form, title="New conversation", back="conversations:conversations")


@org_permission_required("conversations.work")
def conversation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(
        Conversation.objects.select_related("customer", "assigned_to"), pk=pk
    )
    form = ConversationForm(
        request.POST or None, initial=ConversationForm.initial_for(conversation)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.conversation_update(
                conversation=conversation,
                **form.cleaned_data,
                allow_over_capacity=_may_exceed_capacity(request),
            )
        except services.ConversationError as problem:
            _apply_error(form, problem)
        else:
            messages.success(request, f"Saved conversation “{conversation}”.")
            return redirect("conversations:conversation_edit", conversation.pk)
    return _form_page(
        request,
        form,
        title=f"Conversation “{conversation}”",
        back="conversations:conversations",
        delete_url=reverse("conversations:conversation_delete", args=[conversation.pk]),
        history_url=reverse("audit_history", args=["conversation", conversation.pk]),
    )


@org_permission_required("conversations.work")
@require_POST
def conversation_delete(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects, pk=pk)
    services.conversation_delete(conversation=conversation)
    messages.success(request, f"Deleted conversation “{conversation}”.")
    return redirect("conversations:conversations")


# The close workflow (Settings) --------------------------------------------------------------


@org_permission_required("settings.manage")
def workflow_settings(request: HttpRequest) -> HttpResponse:
    current = services.workflow_settings()
    form = WorkflowSettingsForm(
        request.POST or None, initial={"enabled": current.enabled, "idle_days": current.idle_days}
    )
    if request.method == "POST" and form.is_valid():
        services.workflow_settings_update(**form.cleaned_data)
        messages.success(request, "Saved the close workflow.")
        return redirect("conversations:workflow_settings")
    return render(
        request,
        "settings/form.html",
        {"form": form, "title": "Workflows: close idle conversations", "back": "accounts:settings"},
        status=400 if request.method == "POST" else 200,
    )
