"""Keyset paging over the log on (occurred_at, id), newest first or (`order=asc`) oldest
first, with signed opaque cursors.

Never OFFSET: page 10,000 costs what page 1 costs, because each page starts from the
index position the cursor names. A cursor carries the last (occurred_at, id) it saw,
the direction, the order, and the fingerprint of the filters (and organisation) it was made for, and
is signed with the secret key, so a forged, edited or foreign cursor is rejected cleanly.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db.models import Q

from auditlog.models import AuditEvent, AuditEventQuerySet

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
PAGE_SIZES: tuple[int, ...] = (25, 50, 100, 250, 500)

NEXT = "n"  # further in the order: older events newest first, newer ones oldest first
PREVIOUS = "p"  # back towards the first page

DESC = "desc"  # newest first, the default
ASC = "asc"  # oldest first
ORDERS: tuple[str, ...] = (DESC, ASC)

_SALT = "audit_read.paging.cursor"
# How many events of the indexed filters one page of a free-text or IP search looks through.
SCAN_LIMIT = 10_000


class PagingError(ValueError):
    """Bad paging input; `param` names the offending query parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message

    def as_errors(self) -> dict[str, str]:
        return {self.param: self.message}


@dataclass(frozen=True, slots=True)
class Page:
    items: list[AuditEvent]
    next_cursor: str | None  # further in the order, or None at the end
    previous_cursor: str | None  # back towards the first page, or None on it
    # A bounded search (scan_base) stopped looking here; its next cursor continues from here.
    searched_to: datetime | None = None


def page_size_from(params: Mapping[str, Any], param: str = "page_size") -> int:
    """The requested page size (default 50), or PagingError naming `param`."""
    raw = params.get(param)
    if raw is None or str(raw).strip() == "":
        return DEFAULT_PAGE_SIZE
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 6:
        raise PagingError(param, f"Use a whole number from 1 to {MAX_PAGE_SIZE}.")
    size = int(text)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise PagingError(param, f"Use a whole number from 1 to {MAX_PAGE_SIZE}.")
    return size


def order_from(params: Mapping[str, Any], param: str = "order") -> str:
    """The requested order, DESC (newest first, the default) or ASC, or PagingError."""
    raw = params.get(param)
    if raw is None or str(raw).strip() == "":
        return DESC
    text = str(raw).strip().lower()
    if text not in ORDERS:
        raise PagingError(param, "Use asc (oldest first) or desc (newest first).")
    return text


def make_cursor(event: AuditEvent, direction: str, filters_key: str, order: str = DESC) -> str:
    payload = {
        "t": event.occurred_at.isoformat(),
        "i": event.pk,
        "d": direction,
        "f": filters_key,
        "o": order,
    }
    return signing.dumps(payload, salt=_SALT, compress=True)


def read_cursor(
    cursor: str, filters_key: str, param: str = "cursor", order: str = DESC
) -> tuple[datetime, int, str]:
    """(occurred_at, id, direction) of a cursor made by make_cursor for these filters and
    this order (cursors from before orders existed are newest first)."""
    if len(cursor) > 512:
        raise PagingError(param, "This cursor is not valid; start again from the first page.")
    try:
        payload = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature:
        raise PagingError(
            param, "This cursor is not valid; start again from the first page."
        ) from None
    try:
        occurred_at = datetime.fromisoformat(payload["t"])
        event_id = int(payload["i"])
        direction = payload["d"]
        key = payload["f"]
        made_for = payload.get("o", DESC)
    except (KeyError, TypeError, ValueError):
        raise PagingError(
            param, "This cursor is not valid; start again from the first page."
        ) from None
    if direction not in (NEXT, PREVIOUS) or occurred_at.tzinfo is None:
        raise PagingError(param, "This cursor is not valid; start again from the first page.")
    if key != filters_key:
        raise PagingError(
            param,
            "This cursor was made for other filters; start again from the first page.",
        )
    if made_for != order:
        raise PagingError(
            param, f"This cursor was made for order={made_for}; start again from the first page."
        )
    return occurred_at, event_id, direction


def _rows_by_ids(ordered: AuditEventQuerySet, limit: int) -> list[AuditEvent]:
    """The first `limit` events of `ordered`: keys from an index-only scan, then those rows
    alone by primary key (`(id, occurred_at)`; the time range prunes partitions)."""
    keys = list(ordered.values_list("occurred_at", "id", "org_id")[:limit])
    if not keys:
        return []
    times = [at for at, _, _ in keys]
    by_id = {
        event.pk: event
        for event in AuditEvent.objects.for_org(keys[0][2])
        .filter(
            id__in=[event_id for _, event_id, _ in keys],
            occurred_at__gte=min(times),
            occurred_at__lte=max(times),
        )
        .order_by()
        .fetch()
    }
    return [by_id[event_id] for _, event_id, _ in keys if event_id in by_id]


def keyset_page(
    queryset: AuditEventQuerySet,
    cursor: str | None,
    size: int,
    filters_key: str,
    *,
    param: str = "cursor",
    scan_base: AuditEventQuerySet | None = None,
    scan_limit: int | None = None,
    ids_first: bool = False,
    order: str = DESC,
) -> Page:
    """One page of `queryset` (already filtered to one organisation), newest first or, with
    `order` ASC, oldest first: then `next` pages towards newer events and `previous` back.

    `filters_key` fingerprints the filters; a cursor made for others raises PagingError.

    `scan_base` (the same filters without those no index serves: free text, IP) bounds the
    work of a page: matches are looked for among the next `scan_limit` events of the base
    only, so a rare term costs the same on 1M or 100M events. A page that stops at that
    bound may hold fewer than `size` events and still have a next cursor, which continues
    the search from where this page stopped looking.

    `ids_first` (filters.ids_first): the page's (occurred_at, id, org_id) are found first, from
    an index alone, then only those rows are read, by primary key.
    """
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise PagingError("page_size", f"Use a whole number from 1 to {MAX_PAGE_SIZE}.")
    position: Q | None = None
    anchor: tuple[datetime, int] | None = None
    direction = NEXT
    if cursor:
        occurred_at, event_id, direction = read_cursor(cursor, filters_key, param, order)
        anchor = (occurred_at, event_id)
    # Walking down (newest to oldest) or up; either way one index range, read forwards or
    # backwards from the cursor's position.
    down = (direction == NEXT) == (order == DESC)
    if anchor is not None:
        occurred_at, event_id = anchor
        if down:
            # Written as `<= t AND (< t OR id < i)` so the index range starts at t; the
            # second clause only trims the few rows that share the timestamp.
            position = Q(occurred_at__lte=occurred_at) & (
                Q(occurred_at__lt=occurred_at) | Q(id__lt=event_id)
            )
        else:
            position = Q(occurred_at__gte=occurred_at) & (
                Q(occurred_at__gt=occurred_at) | Q(id__gt=event_id)
            )
    ordering = ("-occurred_at", "-id") if down else ("occurred_at", "id")
    scan_limit = scan_limit or SCAN_LIMIT
    if position is not None:
        queryset = queryset.filter(position)
    boundary: tuple[datetime, int] | None = None
    if scan_base is not None:
        base = scan_base.filter(position) if position is not None else scan_base
        boundary = (
            base.order_by(*ordering)
            .values_list("occurred_at", "id")[scan_limit - 1 : scan_limit]
            .first()
        )
        if boundary is not None:
            t, i = boundary
            if down:
                within = Q(occurred_at__gte=t) & (Q(occurred_at__gt=t) | Q(id__gte=i))
            else:
                within = Q(occurred_at__lte=t) & (Q(occurred_at__lt=t) | Q(id__lte=i))
            queryset = queryset.filter(within)
    if ids_first:
        items = _rows_by_ids(queryset.order_by(*ordering), size + 1)
    else:
        items = queryset.order_by(*ordering)[: size + 1].fetch()
    more = len(items) > size
    items = items[:size]
    # Stopped looking at the scan bound: there may be matches beyond it.
    cut_short = not more and boundary is not None

    def at(point: tuple[datetime, int], towards: str) -> str:
        return make_cursor(
            AuditEvent(occurred_at=point[0], pk=point[1]), towards, filters_key, order
        )

    if direction == NEXT:
        if more:
            next_cursor = make_cursor(items[-1], NEXT, filters_key, order)
        else:
            next_cursor = at(boundary, NEXT) if cut_short else None
        previous_cursor = None
        if anchor is not None:
            # We came from newer rows, so there is a newer page.
            if items:
                previous_cursor = make_cursor(items[0], PREVIOUS, filters_key, order)
            elif cut_short:
                previous_cursor = at(boundary, PREVIOUS)
        return Page(
            items=items,
            next_cursor=next_cursor,
            previous_cursor=previous_cursor,
            searched_to=boundary[0] if cut_short else None,
        )

    items.reverse()
    if more:
        previous_cursor = make_cursor(items[0], PREVIOUS, filters_key, order)
    else:
        previous_cursor = at(boundary, PREVIOUS) if cut_short else None
    if items:
        next_cursor = make_cursor(items[-1], NEXT, filters_key, order)
    else:
        next_cursor = at(anchor, NEXT) if anchor is not None and cut_short else None
    return Page(
        items=items,
        next_cursor=next_cursor,
        previous_cursor=previous_cursor,
        searched_to=boundary[0] if cut_short else None,
    )


# A change has one row per changed property: at most this many are added to finish one.
MAX_CHANGE_ROWS = 500


def finish_last_change(
    page: Page, queryset: AuditEventQuerySet, filters_key: str, order: str = DESC
) -> Page:
    """The page with the rest of its last change added, so a change is never split between
    two pages (the page view reads a change as one event). A change's rows share their time
    and follow each other by id, so the rest is found by the time index; the next cursor
    then starts after them. The API's pages keep their exact size and are not finished."""
    if not page.items or page.next_cursor is None:
        return page
    last = page.items[-1]
    if last.change_id is None:
        return page
    after = {"id__lt": last.pk} if order == DESC else {"id__gt": last.pk}
    rest = list(
        queryset.filter(occurred_at=last.occurred_at, change_id=last.change_id, **after).order_by(
            "-id" if order == DESC else "id"
        )[:MAX_CHANGE_ROWS]
    )
    if not rest:
        return page
    return Page(
        items=[*page.items, *rest],
        next_cursor=make_cursor(rest[-1], NEXT, filters_key, order),
        previous_cursor=page.previous_cursor,
        searched_to=page.searched_to,
    )
