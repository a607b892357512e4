"""The agent's workspace (status toggle, my conversations, heartbeat) and Settings > Routing."""

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import org_permission_required
from accounts.models import User
from conversations.models import Conversation
from worksession import services
from worksession.models import DEFAULT_CAPACITY, STATUSES, AgentStatus

HEARTBEAT_INTERVAL_SECONDS = 15


@org_permission_required("conversations.work")
def workspace(request: HttpRequest) -> HttpResponse:
    return _workspace_page(request)


def _workspace_page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    state = services.agent_status_for(request.user)
    mine = (
        Conversation.objects.filter(assigned_to_id=request.user.pk)
        .exclude(status=Conversation.DONE)
        .select_related("customer")
        .order_by("status", "-last_activity_at")
    )
    return render(
        request,
        "worksession/workspace.html",
        {
            "state": state,
            "statuses": STATUSES,
            "conversations": mine,
            "load": services.agent_load(request.user.pk),
            "heartbeat_interval": HEARTBEAT_INTERVAL_SECONDS,
            "error": error,
        },
        status=status,
    )


@org_permission_required("conversations.work")
@require_POST
def status_set(request: HttpRequest) -> HttpResponse:
    status = request.POST.get("status", "")
    try:
        services.agent_status_set(user=request.user, status=status)
    except services.WorkSessionError as problem:
        return _workspace_page(request, error=str(problem), status=400)
    messages.success(request, f"You are now {status}.")
    return redirect("worksession:workspace")


@org_permission_required("conversations.work")
@require_POST
def heartbeat(request: HttpRequest) -> JsonResponse:
    beat = services.heartbeat(user=request.user)
    return JsonResponse({"status": beat.status, "capacity": beat.capacity, "load": beat.load})


class CapacityForm(forms.Form):
    capacity = forms.IntegerField(min_value=0, max_value=services.MAX_CAPACITY)


@org_permission_required("routing.manage")
def routing(request: HttpRequest) -> HttpResponse:
    return _routing_page(request)


def _routing_page(request: HttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    agents = (
        User.objects.filter(is_active=True)
        .annotate(
            load=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__status=Conversation.OPEN),
            )
        )
        .order_by("name", "email")
    )
    states = {state.pk: state for state in AgentStatus.objects.all()}
    rows = [(agent, states.get(agent.pk)) for agent in agents]
    queued = Conversation.objects.filter(status=Conversation.OPEN, assigned_to__isnull=True).count()
    return render(
        request,
        "worksession/routing.html",
        {
            "rows": rows,
            "queued": queued,
            "max_capacity": services.MAX_CAPACITY,
            "default_capacity": DEFAULT_CAPACITY,
            "error": error,
        },
        status=status,
    )


@org_permission_required("routing.manage")
@require_POST
def capacity_set(request: HttpRequest, pk: int) -> HttpResponse:
    agent = get_object_or_404(User.objects, pk=pk)
    form = CapacityForm(request.POST)
    if not form.is_valid():
        error = " ".join(form.errors.get("capacity", ["Enter a capacity."]))
        return _routing_page(request, error=f"Capacity for {agent}: {error}", status=400)
    services.agent_capacity_set(user=agent, capacity=form.cleaned_data["capacity"])
    messages.success(request, f"Capacity for {agent} is now {form.cleaned_data['capacity']}.")
    return redirect("worksession:routing")
