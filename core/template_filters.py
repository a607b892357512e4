"""Template filters for the product's one date format (core.timefmt), loaded as builtins."""

from datetime import date, datetime
from typing import Any

from django import template
from django.utils import timezone

from core import timefmt

register = template.Library()


@register.filter
def moment(value: Any, zone: Any = None) -> str:
    """`{{ when|moment }}` or `{{ when|moment:"Europe/Paris" }}`: 3 Dec 2026, 19:26:51."""
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    tz = timezone.get_current_timezone() if zone is None else zone
    if isinstance(tz, str):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(tz)
    return timefmt.datetime_text(value, tz)


@register.filter
def day(value: Any) -> str:
    """`{{ date|day }}`: 3 Dec 2026."""
    if isinstance(value, datetime):
        value = value.date()
    return timefmt.date_text(value) if isinstance(value, date) else ""


@register.filter
def ago(seconds: Any) -> str:
    """`{{ age_seconds|ago }}`: 4 h 54 min ago."""
    return timefmt.ago_text(None if seconds is None else float(seconds))
