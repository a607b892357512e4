"""One way to write dates and times across the product, and durations as people say them.

Dates read "3 Dec 2026", moments "3 Dec 2026, 19:26:51" (24-hour clock, in the zone the
caller gives), durations "4 h 54 min ago". Templates use the same through the `moment`,
`day` and `ago` filters (core.template_filters, a template builtin).
"""

from datetime import date, datetime, tzinfo


def date_text(day: date) -> str:
    """`3 Dec 2026`."""
    return f"{day.day} {day:%b %Y}"


def datetime_text(moment: datetime, tz: tzinfo | None = None) -> str:
    """`3 Dec 2026, 19:26:51`, in `tz` when given."""
    if tz is not None:
        moment = moment.astimezone(tz)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S}"


def short_datetime_text(moment: datetime, tz: tzinfo | None = None) -> str:
    """`3 Dec, 19:26:51`: a moment of this year, where the year goes without saying."""
    if tz is not None:
        moment = moment.astimezone(tz)
    return f"{moment.day} {moment:%b, %H:%M:%S}"


def duration_text(seconds: float) -> str:
    """`45 s`, `4 min`, `4 h 54 min`, `2 d 3 h`: the two largest units, as people say them."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        rest = minutes - hours * 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours - days * 24
    return f"{days} d {rest} h" if rest else f"{days} d"


def ago_text(seconds: float | None) -> str:
    """`just now`, `45 s ago`, `4 h 54 min ago`; `—` when unknown."""
    if seconds is None:
        return "—"
    if seconds < 5:
        return "just now"
    return f"{duration_text(seconds)} ago"
