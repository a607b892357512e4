"""The audit-log filters of SPEC section 5, shared by the viewer page, the API and the exports.

One FilterSet, one set of parameter names. `filter_events(org, params)` is what callers use:
it returns the organisation's matching events newest first, or the problems with the input as
`{parameter: message}` so the page can show them and the API can answer 400.
"""

import builtins
import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import django_filters
from django import forms
from django.db.models import F, Lookup, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audit_read import query
from auditlog import catalog
from auditlog.models import AuditEvent, AuditEventQuerySet

# The parameters of SPEC section 5, in the order the docs list them.
FILTER_NAMES: tuple[str, ...] = (
    "start",
    "end",
    "event_type",
    "action",
    "section",
    "property",
    "performed_by",
    "actor_type",
    "user",
    "kind",
    "agent",
    "subject_type",
    "subject_id",
    "ip",
    "q",
)

Q_MAX_LENGTH = 200
_MAX_ID = 2**63 - 1
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A "+" in an unencoded query string arrives as a space: "…T10:00:00 01:00" meant "+01:00".
_SPACE_FOR_PLUS = re.compile(r"^(.*[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def _choices_text(choices: Mapping[str, str] | tuple[str, ...]) -> str:
    return ", ".join(choices)


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of the time range, resolved to an aware datetime."""

    at: datetime
    # A date `end` includes its whole day: the bound is the next midnight, excluded.
    exclusive: bool = False


class DateOrDateTimeField(forms.Field):
    """`YYYY-MM-DD` (a day in the organisation's time zone) or an ISO 8601 date-time."""

    default_error_messages = {
        "invalid": "Use a date (YYYY-MM-DD) or an ISO 8601 date-time (e.g. 2025-01-31T14:00:00Z).",
    }

    def to_python(self, value: Any) -> date | datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, date):
            return value
        # RFC 3339 allows a lower-case "t" and "z"; Python only parses upper case.
        text = str(value).strip().upper()
        try:
            if _DATE.fullmatch(text):
                return date.fromisoformat(text)
            match = _SPACE_FOR_PLUS.match(text)
            if match:
                text = f"{match[1]}+{match[2]}"
            if len(text) > 40 or not _DATE.match(text):
                raise ValueError(text)
            return datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class CommaSeparatedChoiceField(forms.Field):
    """One value or a comma-separated list, each one of the catalog's values."""

    def __init__(self, *, choices: Mapping[str, str], noun: str, **kwargs: Any) -> None:
        self.valid = tuple(choices)
        self.noun = noun
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        if value in self.empty_values:
            return []
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        values = [str(item).strip() for item in items if str(item).strip()]
        unknown = [item for item in values if item not in self.valid]
        if unknown:
            raise forms.ValidationError(
                f"Unknown {self.noun} {', '.join(map(repr, unknown[:5]))}; "
                f"use one or more of: {_choices_text(self.valid)}.",
                code="invalid_choice",
            )
        return list(dict.fromkeys(values))


def _catalog_choice(choices: Mapping[str, str] | tuple[str, ...], noun: str) -> dict[str, Any]:
    values = tuple(choices)
    return {
        "choices": [("", "")] + [(value, value) for value in values],
        "error_messages": {
            "invalid_choice": f"Unknown {noun} %(value)r; use one of: {_choices_text(values)}."
        },
    }


def _id_field_kwargs(what: str) -> dict[str, Any]:
    return {
        "min_value": 1,
        "max_value": _MAX_ID,
        "error_messages": {
            "invalid": f"Use the numeric id of the {what}.",
            "min_value": f"Use the numeric id of the {what}.",
            "max_value": f"Use the numeric id of the {what}.",
        },
    }


class AuditEventFilterForm(forms.Form):
    """Cross-parameter checks; the FilterSet gives it the organisation's time zone."""

    tz: ZoneInfo = ZoneInfo("UTC")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        start_bound = self._bound(start, is_end=False) if start is not None else None
        end_bound = self._bound(end, is_end=True) if end is not None else None
        if start_bound is not None:
            cleaned["start"] = start_bound
        if end_bound is not None:
            cleaned["end"] = end_bound
        if start_bound and end_bound:
            empty = (
                start_bound.at >= end_bound.at
                if end_bound.exclusive
                else start_bound.at > end_bound.at
            )
            if empty:
                self.add_error("start", "start is after end.")
        return cleaned

    def _bound(self, value: date | datetime, *, is_end: bool) -> Bound:
        if isinstance(value, datetime):
            if timezone.is_naive(value):
                value = value.replace(tzinfo=self.tz)
            return Bound(_utc(value))
        if is_end:
            if value == date.max:
                return Bound(_LATEST)
            day_after = datetime.combine(value + timedelta(days=1), time.min, self.tz)
            return Bound(_utc(day_after), exclusive=True)
        return Bound(_utc(datetime.combine(value, time.min, self.tz)))


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    """In UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows.

    Near the ends of the calendar the conversion can leave it; clamp to the end it passed.
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if value.utcoffset() > timedelta(0) else _LATEST


class _FieldFilter(django_filters.Filter):
    """A filter whose form field we choose; `apply` does the (tenant-indexed) narrowing."""

    def filter(self, qs: AuditEventQuerySet, value: Any) -> AuditEventQuerySet:
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        return self.apply(qs, value)

    def apply(self, qs: AuditEventQuerySet, value: Any) -> AuditEventQuerySet:
        return qs.filter(**{self.field_name: value})


class StartFilter(_FieldFilter):
    field_class = DateOrDateTimeField

    def apply(self, qs: AuditEventQuerySet, value: Bound) -> AuditEventQuerySet:
        return qs.filter(occurred_at__gte=value.at)


class EndFilter(_FieldFilter):
    field_class = DateOrDateTimeField

    def apply(self, qs: AuditEventQuerySet, value: Bound) -> AuditEventQuerySet:
        if value.exclusive:
            return qs.filter(occurred_at__lt=value.at)
        return qs.filter(occurred_at__lte=value.at)


class EventTypeFilter(_FieldFilter):
    field_class = CommaSeparatedChoiceField

    def apply(self, qs: AuditEventQuerySet, value: list[str]) -> AuditEventQuerySet:
        if len(value) == 1:
            return qs.filter(event_type=value[0])
        return qs.filter(event_type__in=value)


class ChoiceFilter(_FieldFilter):
    field_class = forms.ChoiceField


class TextFilter(_FieldFilter):
    field_class = forms.CharField


class IdFilter(_FieldFilter):
    field_class = forms.IntegerField


class PerformedByFilter(IdFilter):
    def apply(self, qs: AuditEventQuerySet, value: int) -> AuditEventQuerySet:
        # A user id unless actor_type names another performer (e.g. an API token's id).
        actor_type = self.parent.form.cleaned_data.get("actor_type") or "user"
        return qs.filter(actor_type=actor_type, actor_id=str(value))


class SubjectUserFilter(IdFilter):
    """`user` (authorization) and `agent` (work_session): the user the events are about."""

    def __init__(self, *args: Any, event_type: str, **kwargs: Any) -> None:
        self.event_type = event_type
        super().__init__(*args, **kwargs)

    def apply(self, qs: AuditEventQuerySet, value: int) -> AuditEventQuerySet:
        return qs.filter(event_type=self.event_type, subject_type="user", subject_id=str(value))


class KindFilter(ChoiceFilter):
    def apply(self, qs: AuditEventQuerySet, value: str) -> AuditEventQuerySet:
        return qs.filter(event_type="settings", subject_type=catalog.kind_subject_type(value))


class IpFilter(_FieldFilter):
    field_class = forms.GenericIPAddressField

    def apply(self, qs: AuditEventQuerySet, value: str) -> AuditEventQuerySet:
        return qs.filter(ip_address=value)


class ILikeContains(Lookup):
    """`col ILIKE '%value%'`: unlike Django's icontains (UPPER(col) LIKE …) a trigram index serves it."""

    lookup_name = "ilike_contains"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        text = getattr(self.rhs, "value", self.rhs)  # a Value() when built as an expression
        pattern = "%" + connection.ops.prep_for_like_query(str(text)) + "%"
        return f"{lhs} ILIKE %s", [*lhs_params, pattern]


class TextSearchFilter(TextFilter):
    def apply(self, qs: AuditEventQuerySet, value: str) -> AuditEventQuerySet:
        # No text index on purpose: a trigram GIN index cost the write path ~15% of its
        # throughput. The search walks the organisation's time-ordered index instead,
        # bounded by the date range, and stops once a page is full.
        return qs.filter(
            Q(ILikeContains(F("subject_name"), value))
            | Q(ILikeContains(F("actor_name"), value))
            | Q(ILikeContains(Cast("before", TextField()), value))
            | Q(ILikeContains(Cast("after", TextField()), value))
        )


class AuditEventFilter(django_filters.FilterSet):
    """SPEC section 5's filters over one organisation's events."""

    start = StartFilter(
        label="Start",
        help_text="From this date (YYYY-MM-DD, in the organisation's time zone) or ISO 8601 date-time.",
    )
    end = EndFilter(
        label="End",
        help_text="Up to this date, inclusive (YYYY-MM-DD, organisation's time zone), or ISO 8601 date-time.",
    )
    event_type = EventTypeFilter(
        label="Event type",
        choices=catalog.EVENT_TYPES,
        noun="event type",
        help_text=f"One or a comma-separated list of: {_choices_text(catalog.EVENT_TYPES)}.",
    )
    action = ChoiceFilter(
        label="Event",
        **_catalog_choice(catalog.ACTIONS, "action"),
        help_text=f"Exact action: {_choices_text(catalog.ACTIONS)}.",
    )
    section = ChoiceFilter(
        label="Section",
        **_catalog_choice(catalog.section_names(), "section"),
        help_text="Exact section name (e.g. User, Business Rule).",
    )
    property = TextFilter(
        label="Property", max_length=64, help_text="Exact property name (e.g. email)."
    )
    performed_by = PerformedByFilter(
        label="Performed by",
        **_id_field_kwargs("user who performed the change"),
        help_text="Id of the user who performed the change (of the actor_type performer when given).",
    )
    actor_type = ChoiceFilter(
        label="Performed-by type",
        **_catalog_choice(catalog.ACTOR_TYPES, "actor_type"),
        help_text=f"Performed-by type: {_choices_text(catalog.ACTOR_TYPES)}.",
    )
    user = SubjectUserFilter(
        label="User",
        event_type="authorization",
        **_id_field_kwargs("user"),
        help_text="Authorization events about this user id (logins, changes to the user).",
    )
    kind = KindFilter(
        label="Kind",
        **_catalog_choice(catalog.settings_kinds(), "kind"),
        help_text=f"Settings events of one kind: {_choices_text(catalog.settings_kinds())}.",
    )
    agent = SubjectUserFilter(
        label="Agent",
        event_type="work_session",
        **_id_field_kwargs("agent"),
        help_text="Work-session events of this agent (user id).",
    )
    subject_type = TextFilter(
        label="Subject type", max_length=64, help_text="Type of the object acted on."
    )
    subject_id = TextFilter(
        label="Subject id", max_length=64, help_text="Id of the object acted on."
    )
    ip = IpFilter(
        label="IP address",
        error_messages={"invalid": "Enter a valid IPv4 or IPv6 address."},
        help_text="IP address the request came from.",
    )
    q = TextSearchFilter(
        label="Search",
        max_length=Q_MAX_LENGTH,
        help_text="Free text in the subject name, performed-by name, before and after values.",
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = AuditEventFilterForm

    def __init__(self, data: Any = None, queryset: Any = None, *, org: Any, **kwargs: Any) -> None:
        self.org = org
        if queryset is None:
            queryset = AuditEvent.objects.for_org(org.pk)
        super().__init__(data, queryset, **kwargs)

    def get_form_class(self) -> type[AuditEventFilterForm]:
        """One form class for every request: its fields are the filters', which never change."""
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _ShallowCopies(form_class.base_fields)
            cls._form_class = form_class
        return form_class

    @builtins.property  # the `property` filter above shadows the builtin in this class
    def form(self) -> AuditEventFilterForm:
        if not hasattr(self, "_form"):
            form = super().form
            form.tz = ZoneInfo(self.org.time_zone)
        return self._form


class _ShallowCopies(dict):
    """Filters or form fields that a FilterSet or form copies shallowly.

    django-filter deep-copies every filter (with its choices) for each FilterSet, and Django
    every field for each form, so that one request may change its own: about 2 ms of every
    page and API call. Here nothing changes a filter or a field per request (the form is
    never rendered; the page draws its own controls); a filter is only given its FilterSet
    (`parent`), which a shallow copy keeps apart.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> "_ShallowCopies":
        return _ShallowCopies({name: copy.copy(item) for name, item in self.items()})


AuditEventFilter.base_filters = _ShallowCopies(AuditEventFilter.base_filters)


def _normalise(params: Mapping[str, Any]) -> dict[str, str]:
    """Query dicts and JSON filter objects alike become {name: text}; empty values drop out."""
    getter = getattr(params, "getlist", None)
    data: dict[str, str] = {}
    for name in FILTER_NAMES:
        if name not in params:
            continue
        if getter is not None:
            values = getter(name)
            value: Any = values[-1] if values else None
        else:
            value = params[name]
        if isinstance(value, list | tuple):
            value = ",".join(str(item) for item in value)
        if value is None:
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        text = str(value) if not isinstance(value, str) else value
        if text.strip() != "":
            data[name] = text
    return data


def filter_events(
    org: Any, params: Mapping[str, Any], *, strict: bool = False
) -> tuple[AuditEventQuerySet, dict[str, str]]:
    """The organisation's events matching `params`, newest first, or `{parameter: message}`.

    `strict` also rejects names that are not filters (for JSON filter objects, where a typo
    would otherwise silently export everything).
    """
    errors: dict[str, str] = {}
    if strict:
        if not isinstance(params, Mapping):
            return AuditEvent.objects.none(), {"filters": "Must be an object of filter parameters."}
        for name in params:
            if name not in FILTER_NAMES:
                errors[str(name)[:64]] = (
                    f"Unknown filter; use any of: {_choices_text(FILTER_NAMES)}."
                )
    try:
        data, compiled = expand(org, params)
    except query.QueryError as problem:
        return AuditEvent.objects.none(), {**errors, "q": problem.message}
    filterset = AuditEventFilter(data, org=org)
    if not filterset.is_valid():
        for name, messages in filterset.form.errors.items():
            errors[name] = " ".join(str(message) for message in messages)
    if errors:
        return AuditEvent.objects.none(), errors
    queryset = filterset.qs
    extra = [*compiled.conditions, *compiled.scanned] if compiled else []
    if extra:
        queryset = queryset.filter(*extra)
    return queryset.newest_first(), {}


def expand(org: Any, params: Mapping[str, Any]) -> tuple[dict[str, str], "query.Compiled | None"]:
    """The filter parameters with `q`'s qualifiers (audit_read/query.py) turned into the
    parameters they stand for (free text stays in `q`), and the compiled query (None when
    `q` has no qualifier). A qualifier that contradicts a parameter raises QueryError."""
    data = _normalise(params)
    text = data.get("q")
    if text is None or ":" not in text and '"' not in text:
        return data, None
    compiled = query.compile_query(org, text)
    data.pop("q")
    for name, value in compiled.params.items():
        if name in data and data[name] != value:
            raise query.QueryError(
                f"The search's {name} ({value}) contradicts the {name} parameter ({data[name]})."
            )
        data[name] = value
    return data, compiled


# Filters no index serves (a trigram or IP index costs the write path too much): their
# matches are found by walking the organisation's time-ordered indexes.
SCANNED: tuple[str, ...] = ("q", "ip")


def scan_base(org: Any, params: Mapping[str, Any]) -> AuditEventQuerySet | None:
    """With a free-text or IP filter (an address range too), the same filters without it
    (what the indexes serve), for paging to bound how far one page looks (paging.SCAN_LIMIT);
    otherwise None."""
    try:
        data, compiled = expand(org, params)
    except query.QueryError:
        return None
    if not any(name in data for name in SCANNED) and not (compiled and compiled.scanned):
        return None
    queryset, errors = filter_events(
        org, {name: value for name, value in data.items() if name not in SCANNED}
    )
    if errors:
        return None
    if compiled and compiled.conditions:
        queryset = queryset.filter(*compiled.conditions)
    return queryset


# Filters whose matches are known from an index alone: the type index carries the subject
# type (the Kind filter), the subject and performer indexes carry the event type (and the
# performer index the subject type too).
_SUBJECT_OR_PERFORMER = frozenset({"performed_by", "user", "agent", "subject_id"})
_INDEX_ONLY = _SUBJECT_OR_PERFORMER | {
    "start",
    "end",
    "event_type",
    "actor_type",
    "subject_type",
    "kind",
}


def ids_first(params: Mapping[str, Any], org: Any = None) -> bool:
    """Whether a page of these filters should find its events' ids first (an index-only scan)
    and read only those rows (paging.keyset_page). Reading rows straight from an index whose
    entries do not say whether they match reads every candidate row from the table: a
    Settings page by one user read 3,477 rows for 51 at 10M (2,685 pages from disk), and a
    week of a rare kind at 100M 19,950 pages for 101."""
    data = _normalise(params)
    if org is not None and "q" in data:
        try:
            data, compiled = expand(org, params)
        except query.QueryError:
            return False
        if compiled and (compiled.conditions or compiled.scanned):
            return False
    names = data.keys()
    if not names <= _INDEX_ONLY:
        return False
    if names & _SUBJECT_OR_PERFORMER:
        # `user` and `agent` imply their event type, `kind` implies settings.
        return bool(names & {"event_type", "kind", "user", "agent"})
    return "kind" in names or {"event_type", "subject_type"} <= names


def filters_key(org: Any, params: Mapping[str, Any]) -> str:
    """A short fingerprint of (organisation, filters): cursors made for one set fail on another."""
    canonical = json.dumps([org.pk, sorted(_normalise(params).items())], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def active_filters(params: Mapping[str, Any]) -> dict[str, str]:
    """The filter parameters that are set, as text (for links, exports, the Export record)."""
    return _normalise(params)
