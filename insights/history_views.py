"""An object's History page, built on the audit record: its events, its state "as of" a moment
beside now, and restore.

Administrators only (audit.view); restoring settings also needs settings.manage. Another
organisation's object answers 404: the object is looked up through the scoped manager and,
once deleted, recognised only by this organisation's own audit rows.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from accounts.decorators import org_permission_required
from audit_read import presentation
from auditlog import catalog
from auditlog.differences import UNCHANGED, Difference, diff_list
from auditlog.models import AuditEvent
from core import timefmt
from insights import history
from insights.history import Kind, Moment, State
from insights.restore import restore

_MAX_ID = 2**63 - 1
AUDIT_LOG_URL = presentation.AUDIT_LOG_URL


@dataclass(slots=True)
class ComparedProperty:
    """One line of the side-by-side table: a property as of the moment and now."""

    name: str
    label: str
    as_of: presentation.Value
    now: presentation.Value | None  # None when the object no longer exists
    changed: bool
    source_note: str
    source_url: str | None
    differences: list[Difference] = field(default_factory=list)


@dataclass(slots=True)
class ListedChange:
    """One change (a save, a login…) in the History list."""

    group: history.ChangeGroup
    local_text: str
    utc_iso: str
    performed_by: str
    performed_by_note: str
    action: str
    section: str
    lines: list[tuple[str, presentation.Value, presentation.Value]]
    state_link: str | None


def _kind_or_404(subject_type: str) -> Kind:
    kind = history.kind_of(subject_type)
    if kind is None:
        raise Http404("No history for that kind of object.")
    return kind


def _instance(kind: Kind, subject_id: int) -> models.Model | None:
    # The scoped manager: another organisation's id is simply not found.
    return kind.model.objects.filter(pk=subject_id).first()


def _local(moment: datetime, tz: Any) -> str:
    return timefmt.datetime_text(moment, tz)


def _utc_iso(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


class MomentError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param, self.message = param, message


def moment_from(
    params: QueryDict, *, org_id: int, kind: Kind, subject_id: int, tz: Any
) -> Moment | None:
    """The moment asked for: `event` (just after that event of this object) or `at` (a local
    date-time in the organisation's zone, or ISO 8601 with an offset); None when neither."""
    event_text = (params.get("event") or "").strip()
    at_text = (params.get("at") or "").strip()
    if event_text:
        if not event_text.isdigit() or int(event_text) > _MAX_ID:
            raise MomentError("event", "Use the id of one of this object's events.")
        event = history.object_events(org_id, kind, subject_id).filter(pk=int(event_text)).first()
        if event is None:
            raise MomentError("event", "That is not an event of this object.")
        return Moment.after(event)
    if at_text:
        try:
            if len(at_text) > 40:
                raise ValueError(at_text)
            at = datetime.fromisoformat(at_text.replace(" ", "T", 1).upper())
        except ValueError:
            raise MomentError(
                "at",
                "Use a date and time, e.g. 2025-03-01T14:30 (in your organisation's time zone).",
            ) from None
        if at.tzinfo is None:
            at = at.replace(tzinfo=tz)
        try:
            return Moment(at.astimezone(UTC))
        except OverflowError:
            raise MomentError("at", "That date is out of range.") from None
    return None


def _differences(kind: Kind, name: str, before: Any, after: Any) -> list[Difference]:
    """What changed inside a structured value: the declaration's comparison for the property
    (`Audited.explain`), or members added and removed for a list."""
    explain = kind.declaration.explain.get(name)
    if explain is not None:
        return explain(before, after)
    if isinstance(before, list) or isinstance(after, list):
        return diff_list(before, after, what=history.property_label(name).removesuffix("s"))
    return []


def row_url(event: AuditEvent) -> str:
    """The audit log filtered to the rows of one event's object at that instant."""
    at = event.occurred_at.astimezone(UTC).isoformat()
    query = {
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "start": at,
        "end": at,
    }
    return AUDIT_LOG_URL + "?" + urlencode(query)


def _source_note(prop: history.PropertyState, tz: Any) -> tuple[str, str | None]:
    event = prop.event
    if prop.source == history.RECORDED and event is not None:
        who, _ = presentation.performed_by_label(event)
        verb = {"create": "Set at creation", "delete": "Last value before deletion"}.get(
            event.action, "Set"
        )
        return f"{verb} by {who}, {_local(event.occurred_at, tz)}", row_url(event)
    if prop.source == history.REPLACED_LATER and event is not None:
        return f"The value replaced on {_local(event.occurred_at, tz)}", row_url(event)
    if prop.source == history.EMPTY_SINCE_CREATION:
        return "Empty since creation", None
    if prop.source == history.UNCHANGED:
        return "Never changed in the log", None
    return "Not recorded in the log", None


def compare(
    kind: Kind, as_of: State, current: dict[str, Any] | None, tz: Any = UTC
) -> list[ComparedProperty]:
    lines = []
    for name in kind.properties:
        prop = as_of.properties[name]
        now_value = None if current is None else current.get(name)
        changed = current is not None and not history.same_value(kind, name, prop.value, now_value)
        shown_as_of, shown_now = presentation.before_after(prop.value, now_value)
        differences = _differences(kind, name, prop.value, now_value) if changed else []
        note, url = _source_note(prop, tz)
        lines.append(
            ComparedProperty(
                name=name,
                label=history.property_label(name),
                as_of=shown_as_of,
                now=shown_now if current is not None else None,
                changed=changed,
                source_note=note,
                source_url=url,
                differences=[d for d in differences if d.kind != UNCHANGED],
            )
        )
    return lines


def _listed(kind: Kind, events: list[AuditEvent], tz: Any, base_url: str) -> list[ListedChange]:
    listed = []
    for group in history.group_changes(events):
        first = group.first
        performed_by, note = presentation.performed_by_label(first)
        lines = []
        for event in group.events:
            if event.property is None and event.before is None and event.after is None:
                continue
            before, after = presentation.before_after(event.before, event.after)
            lines.append((presentation.property_label(event.property), before, after))
        listed.append(
            ListedChange(
                group=group,
                local_text=_local(first.occurred_at, tz),
                utc_iso=_utc_iso(first.occurred_at),
                performed_by=performed_by,
                performed_by_note=note,
                action=catalog.ACTIONS.get(first.action, first.action),
                section=first.section,
                lines=lines,
                state_link=(
                    f"{base_url}?{urlencode({'event': group.last_id})}#as-of"
                    if history.changes_state(kind, group)
                    else None
                ),
            )
        )
    return listed


def _edit_url(kind: Kind, instance: models.Model | None) -> str | None:
    if instance is None or not kind.edit_url:
        return None
    try:
        return reverse(kind.edit_url, args=[instance.pk])
    except NoReverseMatch:
        return None


def history_url(subject_type: str, subject_id: int | str) -> str:
    return reverse("audit_history", args=[subject_type, subject_id])


def _page(
    request: HttpRequest,
    kind: Kind,
    subject_id: int,
    params: QueryDict,
    *,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    org = request.user.org
    tz = org.tz
    if subject_id > _MAX_ID:
        raise Http404("No such object.")
    instance = _instance(kind, subject_id)
    if instance is None and not history.has_events(org.pk, kind, subject_id):
        raise Http404("No such object in this organisation.")
    current = history.current_state(kind, instance) if instance is not None else None
    recent = history.recent_events(org.pk, kind, subject_id)
    name = str(instance) if instance is not None else (recent[0].subject_name if recent else "")
    base_url = history_url(kind.subject_type, subject_id)

    errors: dict[str, str] = {}
    moment = None
    try:
        moment = moment_from(params, org_id=org.pk, kind=kind, subject_id=subject_id, tz=tz)
    except MomentError as error:
        errors[error.param] = error.message
        status = 400

    as_of = comparison = None
    if moment is not None:
        rows = history.state_events(org.pk, kind, subject_id)
        as_of = history.state_at(rows, kind.properties, moment, current)
        comparison = compare(kind, as_of, current, tz)
    differing = [line for line in comparison or [] if line.changed]
    can_restore = (
        kind.restorable
        and instance is not None
        and as_of is not None
        and as_of.existed
        and bool(differing)
        and request.user.has_org_perm("settings.manage")
    )
    at_value = ""
    if moment is not None:
        at_value = f"{moment.at.astimezone(tz):%Y-%m-%dT%H:%M:%S}"
    context = {
        "kind": kind,
        "subject_id": subject_id,
        "name": name,
        "exists": instance is not None,
        "edit_url": _edit_url(kind, instance),
        "audit_log_url": AUDIT_LOG_URL
        + "?"
        + urlencode({"subject_type": kind.subject_type, "subject_id": subject_id}),
        "timeline_url": (
            reverse("work_timeline", args=[subject_id]) if kind.subject_type == "user" else None
        ),
        "changes": _listed(kind, recent, tz, base_url),
        "limited": len(recent) >= history.HISTORY_LIMIT,
        "history_limit": history.HISTORY_LIMIT,
        "moment": moment,
        "moment_local": _local(moment.at, tz) if moment else "",
        "moment_utc": _utc_iso(moment.at) if moment else "",
        "moment_event": moment.event_id if moment else None,
        "moment_iso": moment.at.isoformat() if moment else "",
        "created_local": _local(as_of.created.occurred_at, tz) if as_of and as_of.created else "",
        "deleted_local": _local(as_of.deleted.occurred_at, tz) if as_of and as_of.deleted else "",
        "at_value": at_value or (params.get("at") or "")[:40],
        "as_of": as_of,
        "comparison": comparison,
        "differing": differing,
        "can_restore": can_restore,
        "restore_url": reverse("audit_history_restore", args=[kind.subject_type, subject_id]),
        "errors": sorted(errors.items()),
        "problem": problem,
        "tz_name": org.time_zone,
        "base_url": base_url,
    }
    return render(request, "auditlog/history.html", context, status=status)


@org_permission_required("audit.view")
def object_history(request: HttpRequest, subject_type: str, subject_id: int) -> HttpResponse:
    """The object's events, newest first; with `at` or `event`, its state then beside now."""
    return _page(request, _kind_or_404(subject_type), subject_id, request.GET)


@org_permission_required("audit.view")
@require_POST
def object_restore(request: HttpRequest, subject_type: str, subject_id: int) -> HttpResponse:
    """Put back the values the object had at the posted moment, as an ordinary update."""
    kind = _kind_or_404(subject_type)
    if not kind.restorable:
        raise Http404("Only settings can be restored.")
    if not request.user.has_org_perm("settings.manage"):
        return render(request, "403.html", {"needed": "settings.manage"}, status=403)
    if subject_id > _MAX_ID:
        raise Http404("No such object.")
    instance = _instance(kind, subject_id)
    if instance is None:
        raise Http404("This object no longer exists; there is nothing to restore into.")
    org = request.user.org

    def again(problem: str) -> HttpResponse:
        return _page(request, kind, subject_id, request.POST, problem=problem, status=400)

    try:
        moment = moment_from(
            request.POST, org_id=org.pk, kind=kind, subject_id=subject_id, tz=org.tz
        )
    except MomentError as error:
        return again(f"{error.param}: {error.message}")
    if moment is None:
        return again("Choose the moment whose values to restore.")
    current = history.current_state(kind, instance)
    rows = history.state_events(org.pk, kind, subject_id)
    as_of = history.state_at(rows, kind.properties, moment, current)
    if not as_of.existed:
        return again("The object did not exist at that moment; there are no values to restore.")
    values = {
        name: prop.value
        for name, prop in as_of.properties.items()
        if prop.source != history.UNKNOWN
        and not history.same_value(kind, name, prop.value, current.get(name))
    }
    if not values:
        messages.info(request, "Nothing to restore: the values are the same as now.")
        return redirect(history_url(kind.subject_type, subject_id))
    try:
        restored = restore(kind, instance=instance, values=values)
    except ValidationError as error:
        return again("Could not restore: " + " ".join(_messages(error)))
    labels = ", ".join(history.property_label(name) for name in restored)
    messages.success(
        request,
        f"Restored {labels} to the values of {_local(moment.at, org.tz)}; "
        "recorded in the audit log as an update by you.",
    )
    return redirect(history_url(kind.subject_type, subject_id))


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [
            f"{history.property_label(name) if name != '__all__' else ''}: {message}".lstrip(": ")
            for name, problems in error.message_dict.items()
            for message in problems
        ]
    return list(error.messages)
