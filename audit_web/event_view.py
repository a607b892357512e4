"""Settings > Security > Audit Log > one event: every field of the record, its Before and
After side by side, the other rows of its change, its seal, its raw JSON and links to the
subject's History and to the log around it.

Administrators only (audit.view). The event is read through the organisation's scoped
manager (and row-level security): another organisation's id answers 404, like an id that
does not exist.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

from accounts.decorators import org_permission_required
from audit_read import presentation
from audit_web.serializers import AuditEventSerializer
from audit_web.views import display_zone
from auditlog import catalog, declare, integrity
from auditlog.models import AuditChainStatus, AuditEvent, AuditSeal
from core import timefmt

_MAX_EVENT_ID = 2**63 - 1
# "Events around this time": the audit log from this long before the event to this long after.
AROUND = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One row of the event's change, for the small table of the change's rows."""

    event_id: int
    property_label: str
    before: SafeString  # the cell's text, the changed words or JSON line marked
    after: SafeString
    url: str
    current: bool


@dataclass(frozen=True, slots=True)
class SealFacts:
    """Where the event stands in its section's sealed hash chain (auditlog/integrity.py)."""

    seal: AuditSeal | None  # the seal that covers the event; None: not sealed yet
    forged: bool  # sealed without a valid MAC: written with SQL alone, not by the application
    verified: bool  # its chain's last verification reached it
    status: AuditChainStatus | None  # the organisation's last verification

    @property
    def mac_checked(self) -> bool:
        # Release-1 seals (version 1) were made before rows carried MACs.
        return self.seal is not None and self.seal.version >= 2

    @property
    def broken_here(self) -> dict[str, Any] | None:
        """The last verification's first broken link, when it is in this event's chain."""
        link = self.status.first_broken_link if self.status is not None else None
        return link if link and self.seal and link.get("section") == self.seal.section else None


def event_or_404(org_id: int, event_id: str) -> AuditEvent:
    """The organisation's event with this id; anything else (another organisation's id, a
    word, a number beyond bigint) is simply absent."""
    if not event_id.isascii() or not event_id.isdigit() or int(event_id) > _MAX_EVENT_ID:
        raise Http404("No such event.")
    found = AuditEvent.objects.for_org(org_id).filter(pk=int(event_id)).fetch()
    if not found:
        raise Http404("No such event.")
    return found[0]


def change_events(org_id: int, event: AuditEvent) -> list[AuditEvent]:
    """Every row of the event's change (itself included), in the order they were written.

    The recorder writes a change's rows with one timestamp, so matching `occurred_at` too
    lets the (org, occurred_at, id) index and one partition find them at any size of log:
    no index covers change_id.
    """
    return (
        AuditEvent.objects.for_org(org_id)
        .filter(occurred_at=event.occurred_at, change_id=event.change_id)
        .order_by("id")
        .fetch()
    )


def seal_facts(org_id: int, event: AuditEvent) -> SealFacts:
    """The seal covering the event and whether verification reached it: two small reads (the
    chain's seals by their (org, section, seq) key; the organisation's status row)."""
    at, pk = event.occurred_at, event.pk
    seal = (
        AuditSeal.objects.filter(org_id=org_id, section=event.section)
        .filter(Q(first_occurred_at__lt=at) | Q(first_occurred_at=at, first_event_id__lte=pk))
        .filter(Q(last_occurred_at__gt=at) | Q(last_occurred_at=at, last_event_id__gte=pk))
        .only("section", "seq", "version", "sealed_at", "forged_event_ids")
        .order_by("seq")
        .first()
    )
    status = integrity.status(org_id)
    verified = False
    if seal is not None and status is not None:
        point = (status.checkpoints or {}).get(event.section) or {}
        if point.get("id") is not None:
            verified = (at, pk) <= (datetime.fromisoformat(point["at"]), int(point["id"]))
    forged = seal is not None and pk in (seal.forged_event_ids or [])
    return SealFacts(seal=seal, forged=forged, verified=verified, status=status)


def _log_url(**params: str) -> str:
    return reverse("audit_log") + "?" + urlencode(params)


def _event_url(event_id: int) -> str:
    return reverse("audit_event", args=[event_id])


def _numeric_id(text: str | None) -> bool:
    return bool(text) and text.isascii() and text.isdigit() and int(text) <= _MAX_EVENT_ID


def _stamp(moment: datetime, tz: tzinfo) -> str:
    """An exact moment as the filters take it: ISO 8601, seconds, the organisation's offset."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def subject_links(event: AuditEvent, tz: tzinfo) -> list[tuple[str, str]]:
    """(label, URL) of the subject's pages: its History (and its state just after this
    event) when its kind has one, then the links its section declares (a timeline…)."""
    subject_id = event.subject_id or ""
    if not _numeric_id(subject_id):
        return []
    links = []
    history = declare.with_history().get(event.subject_type)
    if history is not None:
        url = reverse("audit_history", args=[event.subject_type, int(subject_id)])
        links.append((f"History of this {history.history.lower()}", url))
        links.append(("Its state just after this event", f"{url}?{urlencode({'event': event.pk})}"))
    for link in declare.row_links().get(event.section, ()):
        try:
            url = reverse(link.url_name, args=[int(subject_id)])
        except NoReverseMatch:
            continue
        if link.per_day:
            url += "?" + urlencode({"start": event.occurred_at.astimezone(tz).date().isoformat()})
        links.append((link.label, url))
    return links


def log_links(event: AuditEvent, performer: str, tz: tzinfo) -> list[tuple[str, str]]:
    """(label, URL) of the Audit Log filtered to what surrounds the event: the same object,
    the same performer, the same ten-minute neighbourhood."""
    links = []
    if event.subject_id:
        links.append(
            (
                "All events for this object",
                _log_url(subject_type=event.subject_type, subject_id=event.subject_id),
            )
        )
    if _numeric_id(event.actor_id):
        links.append(
            (
                f"Other events by {performer}",
                _log_url(actor_type=event.actor_type, performed_by=event.actor_id),
            )
        )
    else:
        kind = catalog.ACTOR_TYPES.get(event.actor_type, event.actor_type)
        links.append((f"Other events performed by “{kind}”", _log_url(actor_type=event.actor_type)))
    links.append(
        (
            f"Events {int(AROUND.total_seconds() // 60)} minutes either side",
            _log_url(
                start=_stamp(event.occurred_at - AROUND, tz),
                end=_stamp(event.occurred_at + AROUND, tz),
            ),
        )
    )
    return links


def _metadata_items(metadata: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Every metadata key with its value as text (JSON for anything but a string)."""
    return [
        (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in sorted((metadata or {}).items(), key=lambda item: str(item[0]))
    ]


def _has_marks(value: presentation.Value) -> bool:
    # The body is escaped text: a tag in it is one of presentation's marks.
    return "<del" in value.body or "<ins" in value.body


def _title(event: AuditEvent) -> str:
    parts = (
        catalog.ACTIONS.get(event.action, event.action),
        event.section,
        event.subject_name or event.subject_id or "",
    )
    return " · ".join(part for part in parts if part)


def _marked(html: str) -> SafeString:
    """A Value's `body` or `cell`: presentation escapes the value and adds only its marks."""
    return mark_safe(html)  # noqa: S308 - escaped by audit_read.presentation


def _change_rows(events: list[AuditEvent], current: AuditEvent) -> list[ChangeRow]:
    rows = []
    for event in events:
        before, after = presentation.before_after(event.before, event.after)
        rows.append(
            ChangeRow(
                event_id=event.pk,
                property_label=presentation.property_label(event.property),
                before=_marked(before.cell),
                after=_marked(after.cell),
                url=_event_url(event.pk),
                current=event.pk == current.pk,
            )
        )
    return rows


@org_permission_required("audit.view")
def audit_event(request: HttpRequest, id: str) -> HttpResponse:
    org = request.user.org
    # Times read in the viewer's chosen zone, as on the Audit Log; links to the log carry
    # the organisation's offset, the zone its form reads times of day in.
    tz, tz_name = display_zone(request, org)
    event = event_or_404(org.pk, id)
    performer, performer_note = presentation.performed_by_label(event)
    before, after = presentation.before_after(event.before, event.after)
    subject_url = None
    if event.subject_id:
        subject_url = presentation.subject_urls([event]).get((event.subject_type, event.subject_id))
    utc = event.occurred_at.astimezone(UTC)
    context = {
        "event": event,
        "title": _title(event),
        "event_type_label": catalog.EVENT_TYPES.get(event.event_type, event.event_type),
        "action_label": catalog.ACTIONS.get(event.action, event.action),
        "property_label": presentation.property_label(event.property),
        "actor_type_label": catalog.ACTOR_TYPES.get(event.actor_type, event.actor_type),
        "performer": performer,
        "performer_note": performer_note,
        "subject_url": subject_url,
        "local_text": timefmt.datetime_text(event.occurred_at, tz),
        "utc_iso": utc.isoformat().replace("+00:00", "Z"),
        "utc_text": f"{utc:%Y-%m-%d %H:%M:%S.%f} UTC",
        "tz_name": tz_name,
        "facts": presentation.context_facts(event, tz),
        "before": before,
        "after": after,
        "before_html": _marked(before.body),
        "after_html": _marked(after.body),
        "marked": _has_marks(before) or _has_marks(after),
        "metadata": _metadata_items(event.metadata),
        "change_rows": _change_rows(change_events(org.pk, event), event),
        "seal": seal_facts(org.pk, event),
        "raw_json": json.dumps(AuditEventSerializer(event).data, ensure_ascii=False, indent=2),
        "api_url": reverse("api-audit-event", kwargs={"id": str(event.pk)}),
        "audit_log_url": reverse("audit_log"),
        "subject_links": subject_links(event, org.tz),
        "log_links": log_links(event, performer, org.tz),
    }
    return render(request, "auditlog/event.html", context)
