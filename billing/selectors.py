"""Reads of the current organisation's subscription and how many seats its users occupy."""

from django.db.models import Count
from django.db.models.functions import Lower

from accounts.models import User
from billing.models import (
    FULL_TIME,
    SEAT_KIND_BY_ROLE_GROUP,
    SEAT_KINDS,
    SeatAllocation,
    Subscription,
)


def subscription() -> Subscription:
    """The current organisation's plan (provisioned with the organisation)."""
    return Subscription.objects.get()


def seat_allocation() -> SeatAllocation:
    return SeatAllocation.objects.get()


def seats_in_use() -> dict[str, int]:
    """Active users per seat kind; each user takes one seat, by their role group's name."""
    in_use = dict.fromkeys(SEAT_KINDS, 0)
    counts = (
        User.objects.filter(is_active=True)
        .values(group=Lower("role_group__name"))
        .annotate(users=Count("id"))
    )
    for row in counts:
        kind = SEAT_KIND_BY_ROLE_GROUP.get(row["group"] or "", FULL_TIME)
        in_use[kind] += row["users"]
    return in_use
