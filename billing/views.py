"""Settings > Billing: the organisation's plan and seats (Administrators with billing.manage)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.decorators import org_permission_required
from billing import selectors, services
from billing.forms import BillingForm
from billing.models import PLANS, SEAT_KINDS


@org_permission_required("billing.manage")
def billing(request: HttpRequest) -> HttpResponse:
    plan, seats = services.billing_provision()
    initial = {
        "plan": plan.plan,
        "full_time_seats": seats.full_time_seats,
        "seasonal_seats": seats.seasonal_seats,
        "collaborator_seats": seats.collaborator_seats,
    }
    form = BillingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if not form.has_changed():
            messages.info(request, "Nothing to change.")
            return redirect("billing:billing")
        try:
            services.billing_update(**form.cleaned_data)
        except ValidationError as problem:
            form.add_error(None, problem)
        else:
            messages.success(request, "Billing saved.")
            return redirect("billing:billing")
    in_use = selectors.seats_in_use()
    usage = [
        {
            "kind": label,
            "field": form[f"{kind}_seats"],
            "purchased": seats.seats(kind),
            "in_use": in_use[kind],
            "over_by": max(0, in_use[kind] - seats.seats(kind)),
        }
        for kind, label in SEAT_KINDS.items()
    ]
    return render(
        request,
        "settings/billing.html",
        {"form": form, "plan": plan, "plans": PLANS, "usage": usage},
        status=400 if request.method == "POST" else 200,
    )
