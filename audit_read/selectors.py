"""The read side's one query for a page of the log: filters, then keyset paging.

The Audit Log page and `GET /api/v1/audit-events/` both call `audit_events_page()`, so a
filter or cursor means the same in both and bad input is reported the same way (the page
shows the errors next to the fields, the API answers 400 with them).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit_read import filters, paging


@dataclass
class EventsPage:
    page: paging.Page | None  # None when `errors` says why
    page_size: int
    errors: dict[str, str] = field(default_factory=dict)


def audit_events_page(
    org: Any,
    params: Mapping[str, Any],
    *,
    cursor: str | None,
    size_params: Mapping[str, Any] | None = None,
    whole_changes: bool = False,
    order: str = paging.DESC,
) -> EventsPage:
    """The organisation's events matching `params`, one page after (or before) `cursor`;
    the page size is read from `size_params` (default `params`). Every problem with the
    input is collected in `errors` (field -> message), the page then None. `order` is
    paging.DESC (newest first) or paging.ASC (oldest first). With
    `whole_changes`, a change the page ends in is finished on this page (paging.finish_last_change)."""
    errors: dict[str, str] = {}
    size = paging.DEFAULT_PAGE_SIZE
    try:
        size = paging.page_size_from(params if size_params is None else size_params)
    except paging.PagingError as problem:
        errors |= problem.as_errors()
    queryset, filter_errors = filters.filter_events(org, params)
    errors |= filter_errors
    if errors:
        return EventsPage(None, size, errors)
    try:
        page = paging.keyset_page(
            queryset,
            cursor or None,
            size,
            filters.filters_key(org, params),
            scan_base=filters.scan_base(org, params),
            ids_first=filters.ids_first(params, org),
            order=order,
        )
    except paging.PagingError as problem:
        return EventsPage(None, size, problem.as_errors())
    if whole_changes:
        page = paging.finish_last_change(page, queryset, filters.filters_key(org, params), order)
    return EventsPage(page, size)
