"""Every write to an organisation's plan and seats.

Changing the plan and changing seats are separate services (separate audit sections);
`billing_update` does both in one transaction for the billing page, validating everything
before changing anything.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from billing import selectors
from billing.models import MAX_SEATS, PLANS, SEAT_KINDS, SeatAllocation, Subscription


def billing_provision() -> tuple[Subscription, SeatAllocation]:
    """The current organisation's plan and seats, created with the defaults if missing.

    Runs when an organisation is created (see billing.signals); recorded as `create` rows.
    """
    with transaction.atomic():
        plan = Subscription.objects.filter().first() or _saved(Subscription())
        seats = SeatAllocation.objects.filter().first() or _saved(SeatAllocation())
    return plan, seats


def _saved(row: Subscription | SeatAllocation) -> Any:
    row.save()
    return row


def _check_plan(plan: Any) -> str:
    if plan not in PLANS:
        raise ValidationError({"plan": f"Unknown plan {plan!r} (choose from {', '.join(PLANS)})."})
    return plan


def _check_seats(requested: dict[str, Any]) -> dict[str, int]:
    """Whole numbers, not negative, not above the maximum, not below the seats in use."""
    errors: dict[str, str] = {}
    checked: dict[str, int] = {}
    in_use = selectors.seats_in_use()
    for kind, value in requested.items():
        field = f"{kind}_seats"
        label = SEAT_KINDS[kind].lower()
        if isinstance(value, bool) or not isinstance(value, int):
            errors[field] = "Enter a whole number of seats."
        elif value < 0:
            errors[field] = "Seats cannot be negative."
        elif value > MAX_SEATS:
            errors[field] = f"At most {MAX_SEATS:,} seats; contact sales for more."
        elif value < in_use[kind]:
            users = in_use[kind]
            one = users == 1
            errors[field] = (
                f"{users} active {label} {'user needs' if one else 'users need'} a seat: "
                f"keep at least {users} {label} {'seat' if one else 'seats'}, "
                "or deactivate users first."
            )
        else:
            checked[kind] = value
    if errors:
        raise ValidationError(errors)
    return checked


def plan_change(*, plan: str) -> Subscription:
    """Upgrade or downgrade the plan; recorded as a `Plan` update when it really changes."""
    plan = _check_plan(plan)
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get()
        subscription.plan = plan
        subscription.save()
    return subscription


def seats_update(
    *,
    full_time_seats: int | None = None,
    seasonal_seats: int | None = None,
    collaborator_seats: int | None = None,
) -> SeatAllocation:
    """Add or remove seats; each changed count is one `Seats` row. None leaves a count alone."""
    requested = {
        kind: value
        for kind, value in zip(
            SEAT_KINDS, (full_time_seats, seasonal_seats, collaborator_seats), strict=True
        )
        if value is not None
    }
    with transaction.atomic():
        # Locked, so two concurrent changes apply one after the other against fresh counts.
        allocation = SeatAllocation.objects.select_for_update().get()
        for kind, value in _check_seats(requested).items():
            setattr(allocation, f"{kind}_seats", value)
        allocation.save()
    return allocation


def billing_update(
    *,
    plan: str,
    full_time_seats: int,
    seasonal_seats: int,
    collaborator_seats: int,
) -> tuple[Subscription, SeatAllocation]:
    """The billing page's save: plan and seats together, all validated before any change."""
    errors: dict[str, list[str]] = {}
    for check, argument in (
        (_check_plan, plan),
        (
            _check_seats,
            {
                "full_time": full_time_seats,
                "seasonal": seasonal_seats,
                "collaborator": collaborator_seats,
            },
        ),
    ):
        try:
            check(argument)
        except ValidationError as problem:
            for field, messages in problem.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        subscription = plan_change(plan=plan)
        allocation = seats_update(
            full_time_seats=full_time_seats,
            seasonal_seats=seasonal_seats,
            collaborator_seats=collaborator_seats,
        )
    return subscription, allocation
