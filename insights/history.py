"""An object's history from the audit record alone: its events, and its full state at any moment.

The state "as of" a moment is rebuilt per property from the object's create/update/delete
rows in (occurred_at, id) order: the last row at or before the moment gives the value (its
`after`); failing that, the first row after it gives the value it replaced (its `before`);
a property no row ever mentions kept its value throughout, which is empty when the log
holds the object's creation, and otherwise the value it has now. Nothing is read from a
second source: no snapshots, no version tables.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.db import models

from auditlog import declare, recorder
from auditlog.models import AuditEvent

# How many of an object's most recent events the History page lists (the audit log page,
# filtered to the object, pages through all of them).
HISTORY_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of object whose history can be shown (an `Audited` declaration with `history`),
    and where it lives in the product."""

    declaration: declare.Audited

    @property
    def subject_type(self) -> str:
        return self.declaration.subject_type

    @property
    def label(self) -> str:
        return self.declaration.history or self.declaration.section

    @property
    def model(self) -> type[models.Model]:
        return self.declaration.model

    @property
    def section(self) -> str:
        """The section whose rows carry the object's state."""
        return self.declaration.section

    @property
    def edit_url(self) -> str | None:
        """URL name of the object's page, taking its id."""
        return self.declaration.edit_url

    @property
    def restorable(self) -> bool:
        """Settings objects: "Restore these values"."""
        return self.declaration.restore is not None

    @property
    def tracked(self) -> recorder.Tracked:
        spec = recorder.tracked(self.model)
        if spec is None:  # registered outside declare.register()
            raise LookupError(f"{self.model._meta.label} is not audited")
        return spec

    @property
    def properties(self) -> tuple[str, ...]:
        """The properties that make up the state; secrets (recorded redacted) are not state."""
        spec = self.tracked
        return tuple(name for name in spec.fields if name not in spec.redacted)


@cache
def kinds() -> dict[str, Kind]:
    """subject_type -> Kind, for every declaration with a History page."""
    return {
        subject_type: Kind(declaration)
        for subject_type, declaration in declare.with_history().items()
    }


def kind_of(subject_type: str) -> Kind | None:
    return kinds().get(subject_type)


# Reading -------------------------------------------------------------------------------------


def object_events(org_id: int, kind: Kind, subject_id: int | str) -> models.QuerySet[AuditEvent]:
    """Every event about the object (all sections: a user's logins too), oldest first.

    Served by the (org, subject_id, subject_type, occurred_at, id) index.
    """
    return (
        AuditEvent.objects.for_org(org_id)
        .filter(subject_type=kind.subject_type, subject_id=str(subject_id))
        .order_by("occurred_at", "id")
    )


def state_events(org_id: int, kind: Kind, subject_id: int | str) -> list[AuditEvent]:
    """The rows that carry the object's state (its section's create, update and delete)."""
    return list(
        object_events(org_id, kind, subject_id).filter(
            section=kind.section, action__in=("create", "update", "delete")
        )
    )


def recent_events(org_id: int, kind: Kind, subject_id: int | str) -> list[AuditEvent]:
    """The object's most recent events, newest first (at most HISTORY_LIMIT)."""
    return list(
        object_events(org_id, kind, subject_id).order_by("-occurred_at", "-id")[:HISTORY_LIMIT]
    )


def has_events(org_id: int, kind: Kind, subject_id: int | str) -> bool:
    return object_events(org_id, kind, subject_id).exists()


# The state of an object now, in the log's vocabulary -------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def normalise(value: Any) -> Any:
    """One spelling of "empty": the log does not record empty values at creation."""
    return None if _is_empty(value) else value


def current_state(kind: Kind, instance: models.Model) -> dict[str, Any]:
    """The object's saved values as the recorder would record them (display names, ISO dates)."""
    spec = kind.tracked
    state: dict[str, Any] = {}
    for name in kind.properties:
        raw = getattr(instance, spec.attnames[name])
        shown = spec.display.get(name)
        if shown is not None and raw is not None:
            value = shown(raw)
        elif isinstance(raw, datetime):
            value = raw.isoformat()
        else:
            value = raw
        state[name] = normalise(value)
    return state


def _datetime_properties(kind: Kind) -> frozenset[str]:
    model = kind.model
    return frozenset(
        name
        for name in kind.properties
        if isinstance(model._meta.get_field(name), models.DateTimeField)
    )


def same_value(kind: Kind, name: str, a: Any, b: Any) -> bool:
    """Equal as the product means it: empties alike, instants alike whatever their notation."""
    a, b = normalise(a), normalise(b)
    if a is None or b is None:
        return a is b
    if name in _datetime_properties(kind) and isinstance(a, str) and isinstance(b, str):
        try:
            return datetime.fromisoformat(a) == datetime.fromisoformat(b)
        except ValueError:
            return a == b
    return a == b


# The state as of a moment ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in the log's (occurred_at, id) order: a time, or just after one event."""

    at: datetime
    event_id: int | None = None  # None: everything recorded at or before `at`

    def includes(self, event: AuditEvent) -> bool:
        if event.occurred_at != self.at:
            return event.occurred_at < self.at
        return self.event_id is None or event.pk <= self.event_id

    @classmethod
    def after(cls, event: AuditEvent) -> "Moment":
        return cls(event.occurred_at, event.pk)


# Where a value shown "as of" comes from, for the page to say so.
RECORDED = "recorded"  # the `after` of the last change at or before the moment
REPLACED_LATER = "replaced_later"  # the `before` of the first change after the moment
EMPTY_SINCE_CREATION = "empty_since_creation"
UNCHANGED = "unchanged"  # never changed in the log: the value it has now
UNKNOWN = "unknown"  # never changed in the log, and the object is gone

NOT_CREATED = "not_created"
EXISTS = "exists"
DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class PropertyState:
    name: str
    value: Any
    source: str
    event: AuditEvent | None = None  # the row the value was read from


@dataclass(frozen=True, slots=True)
class State:
    moment: Moment
    status: str  # NOT_CREATED, EXISTS or DELETED at that moment
    properties: dict[str, PropertyState] = field(default_factory=dict)
    created: AuditEvent | None = None
    deleted: AuditEvent | None = None

    @property
    def values(self) -> dict[str, Any]:
        return {name: prop.value for name, prop in self.properties.items()}

    @property
    def existed(self) -> bool:
        return self.status == EXISTS


def state_at(
    events: Sequence[AuditEvent],
    properties: Iterable[str],
    moment: Moment,
    current: dict[str, Any] | None = None,
) -> State:
    """The object's state at `moment`, from its state rows (oldest first) alone.

    `current` is the object's state now (None when it no longer exists): the value of a
    property the log never saw change.
    """
    created = next((e for e in events if e.action == "create"), None)
    deleted = next((e for e in events if e.action == "delete"), None)
    if created is not None and not moment.includes(created):
        status = NOT_CREATED
    elif deleted is not None and moment.includes(deleted):
        status = DELETED
    else:
        status = EXISTS

    by_property: dict[str, list[AuditEvent]] = {}
    for event in events:
        if event.property:
            by_property.setdefault(event.property, []).append(event)

    result: dict[str, PropertyState] = {}
    for name in properties:
        rows = by_property.get(name, [])
        last = None
        first_later = None
        for event in rows:
            if moment.includes(event):
                last = event
            elif first_later is None:
                first_later = event
        if last is not None:
            # A delete row's `after` is empty; the object's last values are its `before`.
            value = last.before if last.action == "delete" else last.after
            result[name] = PropertyState(name, normalise(value), RECORDED, last)
        elif first_later is not None:
            result[name] = PropertyState(
                name, normalise(first_later.before), REPLACED_LATER, first_later
            )
        elif created is not None or deleted is not None:
            # Creation and deletion record every non-empty value: never mentioned means empty.
            result[name] = PropertyState(name, None, EMPTY_SINCE_CREATION, created)
        elif current is not None:
            result[name] = PropertyState(name, normalise(current.get(name)), UNCHANGED)
        else:
            result[name] = PropertyState(name, None, UNKNOWN)
    return State(moment, status, result, created, deleted)


# Presenting a change group -------------------------------------------------------------------


@dataclass(slots=True)
class ChangeGroup:
    """The rows of one save (one change_id), as the History page lists them."""

    change_id: str
    events: list[AuditEvent]

    @property
    def first(self) -> AuditEvent:
        return self.events[0]

    @property
    def last_id(self) -> int:
        return max(event.pk for event in self.events)


def group_changes(events: Iterable[AuditEvent]) -> list[ChangeGroup]:
    """Consecutive rows sharing a change_id become one group (rows of one save are adjacent)."""
    groups: list[ChangeGroup] = []
    for event in events:
        key = str(event.change_id)
        if groups and groups[-1].change_id == key:
            groups[-1].events.append(event)
        else:
            groups.append(ChangeGroup(key, [event]))
    for group in groups:
        group.events.sort(key=lambda event: event.pk)
    return groups


def changes_state(kind: Kind, group: ChangeGroup) -> bool:
    """Whether the group changed the object's state (so "state after this change" applies)."""
    return any(
        event.section == kind.section and event.action in ("create", "update", "delete")
        for event in group.events
    )


def property_label(name: str) -> str:
    return name.replace("_", " ").capitalize()
