"""Settings > Security > Audit Log: the Administrator's filtered, cursor-paged view of the log."""

import json
from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.decorators import org_permission_required
from accounts.models import User
from audit_read import filters, paging, presentation
from audit_read import query as query_language
from audit_read.selectors import audit_events_page
from audit_web import saved_views
from auditlog import catalog, integrity
from core import timefmt

DEFAULT_DAYS = 7
EXPORT_CSV_PATH = "/api/v1/audit-events/export.csv"
EXPORT_NDJSON_PATH = "/api/v1/audit-events/export.ndjson"

# Sub-filters shown per event type: the catalog says which, the page says how they look.
SUB_FILTER_LABELS: dict[str, str] = {
    "user": "User",
    "kind": "Kind",
    "performed_by": "Performed by",
    "agent": "Agent",
    "subject_id": "Object id",
}


def _query(params: dict[str, str], **changes: str | None) -> str:
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _object_query(event: Any) -> str:
    """The query of a row's "All events" link (per row: quoted directly, not via urlencode)."""
    return (
        f"subject_type={quote_plus(event.subject_type)}&subject_id={quote_plus(event.subject_id)}"
    )


# Date presets: how far back from now (24 hours exactly; days count whole days, today too).
PRESETS: dict[str, str] = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
# The form's own fields, turned into the URL contract's filters (SPEC §4-5) before use.
FORM_ONLY = ("performer", "preset", "start_time", "end_time")


def _effective_params(request: HttpRequest, org: Any) -> dict[str, str]:
    """The filters the page applies: the URL's, or the last 7 days when the URL has none.

    The form's own fields become filters here: `performer` ("user:7", "system", "api:3")
    becomes `actor_type` and `performed_by`; several `event_type` boxes one comma list; a
    `preset` the start and end it stands for; `start_time`/`end_time` a time of day on the
    dates."""
    query: QueryDict = request.GET
    params = {name: query.get(name, "") for name in filters.FILTER_NAMES if name in query}
    if "event_type" in query and len(query.getlist("event_type")) > 1:
        params["event_type"] = ",".join(v for v in query.getlist("event_type") if v.strip())
    performer = query.get("performer", "").strip()
    if performer:
        kind, _, performer_id = performer.partition(":")
        params["actor_type"] = kind
        params["performed_by"] = performer_id
    elif "performer" in query:  # "Anyone" chosen: the form's choice wins over the URL's
        params.pop("actor_type", None)
        params.pop("performed_by", None)
    preset = query.get("preset", "")
    if preset in PRESETS:
        now = timezone.now().astimezone(org.tz)
        if preset == "24h":
            params["start"] = (now - timedelta(hours=24)).replace(microsecond=0).isoformat()
            params.pop("end", None)  # up to now, and whatever happens while reading
        else:
            days = int(preset[:-1])
            params["start"] = (now.date() - timedelta(days=days - 1)).isoformat()
            params["end"] = now.date().isoformat()
    else:
        for name in ("start", "end"):
            at = query.get(f"{name}_time", "").strip()
            day = params.get(name, "").strip()
            if at and len(day) == 10:
                # "To 14:05" takes in the whole of that minute.
                whole = ":59.999999" if name == "end" and len(at) == 5 else ""
                params[name] = f"{day}T{at}{whole}"
    if not any(name in query for name in (*filters.FILTER_NAMES, *FORM_ONLY)):
        today = timezone.now().astimezone(org.tz).date()
        params["start"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        params["end"] = today.isoformat()
    return {name: value for name, value in params.items() if value.strip() != ""}


def display_zone(request: HttpRequest, org: Any) -> tuple[Any, str]:
    """The zone the viewer reads times in (organisation's, their own, or UTC: their choice,
    kept on their account) and its name; `?zone=` changes the choice."""
    user = request.user
    wanted = request.GET.get("zone")
    if wanted is not None:
        wanted = "" if wanted in ("", "organization") else wanted
        try:
            if wanted:
                ZoneInfo(wanted)
        except (ZoneInfoNotFoundError, ValueError):
            wanted = None  # an unknown zone is ignored, the choice kept
        if wanted is not None and wanted != user.display_time_zone:
            user.display_time_zone = wanted
            user.save(update_fields=["display_time_zone"])
    if user.display_time_zone:
        try:
            return ZoneInfo(user.display_time_zone), user.display_time_zone
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return org.tz, org.time_zone


def search_suggestions(emails: list[str]) -> list[str]:
    """What the search box offers as you type (audit_read/query.py): each qualifier, then
    each fixed value of the catalog, this organisation's sections and kinds, and its people."""
    from audit_read.query import QUALIFIERS

    def quoted(value: str) -> str:
        return f'"{value}"' if " " in value else value

    values = [
        *(f"type:{v}" for v in catalog.EVENT_TYPES),
        *(f"action:{v}" for v in catalog.ACTIONS),
        *(f"actor_type:{v}" for v in catalog.ACTOR_TYPES),
        *(f"section:{quoted(v)}" for v in catalog.section_names()),
        *(f"kind:{v}" for v in catalog.settings_kinds()),
        *(f"actor:{email}" for email in sorted(emails)),
        "created:>=",
        "ip:",
    ]
    return [f"{name}:" for name in QUALIFIERS] + values


def _performer_options(
    params: dict[str, str], users: list[tuple[str, str]]
) -> tuple[SafeString, str]:
    """The Performed-by select's options: people (`users`: id and "name (email)", so two Ann
    Lees differ), every automation type with each business rule, and each API token; and
    the chosen one."""
    from accounts.models import ApiToken
    from settings_app.models import BusinessRule

    chosen_type, chosen_id = params.get("actor_type", ""), params.get("performed_by", "")
    if chosen_id and not chosen_type:
        chosen_type = "user"
    chosen = f"{chosen_type}:{chosen_id}" if chosen_id else chosen_type
    people = [(f"user:{pk}", label) for pk, label in users]
    automations = [
        ("system", "System"),
        ("queue_router", "Queue router"),
        ("workflow", "Workflows"),
        ("business_rule", "Business rules (any)"),
    ] + [
        (f"business_rule:{pk}", f"Business rule: {name}")
        for pk, name in BusinessRule.objects.order_by("name").values_list("pk", "name")
    ]
    tokens = [("api", "API tokens (any)")] + [
        (f"api:{pk}", f"API token: {name}")
        for pk, name in ApiToken.objects.order_by("name").values_list("pk", "name")
    ]
    others = [("user", "People (any)"), ("anonymous", "Unknown (failed sign-ins)")]
    groups = (("People", others + people), ("Automations", automations), ("API", tokens))
    known = {value for _, options in groups for value, _ in options}
    html = ['<option value="">Anyone</option>']
    if chosen and chosen not in known:
        html.append(f'<option value="{escape(chosen)}" selected>{escape(chosen)}</option>')
    for label, options in groups:
        html.append(f'<optgroup label="{escape(label)}">')
        html.append(_options_html(options, chosen))
        html.append("</optgroup>")
    return mark_safe("".join(html)), chosen  # noqa: S308 - every value is escaped


def _shown_in_form(params: dict[str, str]) -> set[str]:
    """The filters the form shows as fields: the fixed ones and the chosen types' sub-filters."""
    chosen = {t.strip() for t in params.get("event_type", "").split(",") if t.strip()}
    shown = {"start", "end", "event_type", "q", "actor_type", "performed_by"}
    for event_type in chosen:
        shown.update(catalog.SUB_FILTERS.get(event_type, ()))
    return shown


def _query_params(params: dict[str, str]) -> dict[str, str]:
    """What the filters run on: the URL's filters plus facts implied by them. With one event
    type whose sections share a subject type, `subject_id` means an object of that type;
    saying so lets PostgreSQL walk the (org, subject_type, subject_id, time) index."""
    types = params.get("event_type", "").split(",")
    if (
        len(types) == 1
        and params.get("subject_id")
        and "subject_id" in catalog.SUB_FILTERS.get(types[0], ())
    ):
        subject_type = catalog.single_subject_type(types[0])
        if subject_type:
            return {"subject_type": subject_type, **params}
    return params


def _options_html(options: list[tuple[str, str]], selected: str) -> SafeString:
    """<option>s for a sub-filter select, joined in Python: the organisation's users appear in
    three selects, and at a few hundred users template loops cost milliseconds per page."""
    return mark_safe(  # noqa: S308 - every value is escaped
        "".join(
            f'<option value="{escape(code)}"{" selected" if code == selected else ""}>'
            f"{escape(label)}</option>"
            for code, label in options
        )
    )


def _subfilters_html(params: dict[str, str], users: list[tuple[str, str]]) -> SafeString:
    """The per-type sub-filter fieldsets (only the chosen type's shown and enabled), joined in
    Python like the options: a dozen fields of template tags cost about a millisecond a page."""
    chosen = {t.strip() for t in params.get("event_type", "").split(",") if t.strip()}
    kinds = list(catalog.settings_kinds().items())
    # The users' options appear in three selects, usually with nothing selected: join once.
    joined: dict[tuple[int, str], SafeString] = {}
    parts = []
    for event_type, names in catalog.SUB_FILTERS.items():
        if not names:
            continue
        type_label = escape(catalog.EVENT_TYPES[event_type])
        hidden = "" if event_type in chosen else " hidden disabled"
        parts.append(
            f'<fieldset class="subfilters" data-subfilters-for="{escape(event_type)}"{hidden}>'
            f'<legend class="visually-hidden">{type_label} filters</legend>'
        )
        for name in names:
            if name == "performed_by":
                continue  # the Performed-by filter of the first row covers every performer
            field_id = f"f-{escape(event_type)}-{escape(name)}"
            value = params.get(name, "")
            if name in ("user", "performed_by", "agent"):
                options, any_label, label = users, "Anyone", SUB_FILTER_LABELS[name]
            elif name == "kind":
                options = kinds
                any_label, label = "All kinds", SUB_FILTER_LABELS[name]
            else:
                options, label = None, f"{catalog.EVENT_TYPES[event_type]} id"
            parts.append(f'<div class="filter"><label for="{field_id}">{escape(label)}</label>')
            if options is not None:
                html = joined.get((id(options), value))
                if html is None:
                    html = joined[(id(options), value)] = _options_html(options, value)
                parts.append(
                    f'<select id="{field_id}" name="{escape(name)}">'
                    f'<option value="">{escape(any_label)}</option>'
                    f"{html}</select>"
                )
            else:
                parts.append(
                    f'<input type="text" inputmode="numeric" id="{field_id}" name="{escape(name)}"'
                    f' value="{escape(value)}" placeholder="e.g. 42" size="10">'
                )
            parts.append("</div>")
        parts.append("</fieldset>")
    return mark_safe("".join(parts))  # noqa: S308 - every value is escaped


def _when(text: str) -> str:
    """A start or end as the page writes dates: `3 Dec 2026` or `3 Dec 2026, 14:05:00`."""
    try:
        if len(text) == 10:
            return timefmt.date_text(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{timefmt.date_text(moment.date())}, {moment:%H:%M}"


def _summary(params: dict[str, str]) -> str:
    start, end = params.get("start"), params.get("end")
    if start and end:
        return f"Events from {_when(start)} to {_when(end)}"
    if start:
        return f"Events since {_when(start)}"
    if end:
        return f"Events up to {_when(end)}"
    return "Events of all dates"


@org_permission_required("audit.view")
def audit_log(request: HttpRequest) -> HttpResponse:
    org = request.user.org
    tz, tz_name = display_zone(request, org)
    params = _effective_params(request, org)
    query_params = _query_params(params)
    found = audit_events_page(
        org,
        query_params,
        cursor=request.GET.get("cursor"),
        size_params=request.GET,
        whole_changes=True,
    )
    page, page_size, errors = found.page, found.page_size, found.errors
    preset = request.GET.get("preset", "")
    if preset and preset not in PRESETS:
        # Not a range we know: say so rather than show every date.
        page, errors = (
            None,
            {**errors, "preset": f"Unknown preset; use one of: {', '.join(PRESETS)}."},
        )

    page_params = {**params, "page_size": str(page_size)}
    if page_size == paging.DEFAULT_PAGE_SIZE:
        page_params.pop("page_size")
    # The organisation's users, read once: the user selects, Performed by, the search
    # suggestions and the rows' subject links all use them.
    people = list(User.objects.order_by("name", "email").values_list("pk", "name", "email"))
    users = [(str(pk), f"{name} ({email})" if name else email) for pk, name, email in people]
    rows = []
    newer_url = older_url = None
    if page is not None:
        rows = presentation.rows(
            page.items,
            tz,
            _object_query,
            # The organisation's users are already read for the filters: no second query.
            existing={"user": {pk for pk, _ in users}},
            links=presentation.row_links(tz),
        )
        if page.previous_cursor:
            newer_url = "?" + _query(page_params, cursor=page.previous_cursor)
        if page.next_cursor:
            older_url = "?" + _query(page_params, cursor=page.next_cursor)

    # Any other filter in the URL (a shared link, "all events for this object") stays
    # visible as a removable chip instead of filtering unseen.
    shown = _shown_in_form(params)
    extra = [
        (name, value, "?" + _query(page_params, **{name: None}))
        for name, value in params.items()
        if name not in shown
    ]
    export_filters = filters.active_filters(params)
    export_query = urlencode(export_filters)
    values = {name: params.get(name, "") for name in filters.FILTER_NAMES}
    type_options = list(catalog.EVENT_TYPES.items())

    performer_html, _ = _performer_options(params, users)
    saved = [(view, saved_views.open_url(view)) for view in saved_views.visible_views(request.user)]
    suggestions = search_suggestions([email for _, _, email in people])
    context = {
        "values": values,
        "event_type_options": type_options,
        "subfilters_html": _subfilters_html(params, users),
        "extra_filters": extra,
        "rows": rows,
        "groups": presentation.groups(rows),
        "errors": sorted(errors.items()),
        "newer_url": newer_url,
        "older_url": older_url,
        "page_sizes": sorted({*paging.PAGE_SIZES, page_size}),
        "page_size": page_size,
        "reset_url": request.path,
        "summary": _summary(params),
        # A free-text or IP search looks through paging.SCAN_LIMIT events per page.
        "searched_to": (
            timefmt.datetime_text(page.searched_to, tz)
            if page is not None and page.searched_to
            else None
        ),
        "scan_limit": f"{paging.SCAN_LIMIT:,}",
        "tz_name": tz_name,
        "org_zone": org.time_zone,
        "zone_choice": request.user.display_time_zone,
        "performer_options": performer_html,
        "saved_views": saved,
        "current_query": query_language.from_params(params),
        "current_view": request.GET.get("view", ""),
        "search_suggestions_json": json.dumps(suggestions),
        "presets": PRESETS.items(),
        "chosen_types": set(values["event_type"].split(",")) if values["event_type"] else set(),
        "can_export": request.user.has_org_perm("audit.export"),
        "export_csv_url": f"{EXPORT_CSV_PATH}?{export_query}",
        "export_ndjson_url": f"{EXPORT_NDJSON_PATH}?{export_query}",
        "export_filters_json": json.dumps(export_filters),
        # Events per day for these filters: its own request, so counting never delays the rows.
        "volume_url": None if errors else reverse("audit_log_volume") + "?" + _query(params),
        "integrity": integrity.status(org.pk),
    }
    return render(request, "auditlog/audit_log.html", context, status=400 if errors else 200)
