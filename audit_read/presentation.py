"""How the audit-log viewer shows a row: performed-by labels, local dates, values and their diffs.

Everything here is pure formatting of rows already read; the page view decides which rows.
"""

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from html import escape
from typing import Any

from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils.safestring import SafeString, mark_safe

from auditlog import catalog, declare
from auditlog.models import AuditEvent
from core import context, timefmt
from core.tenancy import TenantScopeError

# A cell shows at most this many characters; the popover always shows the whole value.
CELL_CHARS = 60
CACHED_JSON_CHARS = 8_000
EMPTY = "(empty)"
# Texts compared word by word up to this many words each (longer ones line by line).
WORD_DIFF_TOKENS = 4_000
# A change shows this many of its properties; a button shows the rest.
GROUP_VISIBLE = 4
AUDIT_LOG_URL = "/settings/security/audit-log/"


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    mark: str = ""  # "added", "removed" or "" (unchanged)


@dataclass(frozen=True, slots=True)
class Value:
    """One Before or After cell."""

    raw: Any
    short: str  # what the cell shows, possibly truncated
    full: str  # what the popover shows
    is_json: bool
    truncated: bool
    lines: list[Line] = field(default_factory=list)  # the popover's lines, diff-marked for JSON
    # The popover's <pre> content, escaped: built with the value (JSON pairs are cached);
    # empty for an empty value, which has no popover.
    body: str = ""
    # What the cell shows, escaped: the start of the value, or where it changed, with the
    # removed (<del>) or added (<ins>) words or JSON line marked.
    cell: str = ""

    @property
    def empty(self) -> bool:
        return self.raw is None

    @property
    def changed_lines(self) -> int:
        return sum(1 for line in self.lines if line.mark)


@dataclass(slots=True)
class Row:
    event: AuditEvent
    performed_by: str
    performed_by_note: str
    local_text: str  # in the organisation's time zone
    utc_iso: str  # for <time datetime>
    utc_text: str  # the exact UTC time, shown on hover
    event_label: str
    property_label: str
    before: Value
    after: Value
    subject_url: str | None
    object_query: str | None
    capacity: dict[str, Any] | None
    links: tuple[tuple[str, str], ...] = ()  # (label, URL): History, Timeline…
    facts: tuple[str, ...] = ()  # what else the row's metadata says (why a sign-in failed)

    def head_cells(self, rowspan: int = 1) -> str:
        """Performed By, Date, Event and Section: once per change."""
        e = self.event
        span = f' rowspan="{rowspan}"' if rowspan > 1 else ""
        note = f' title="{escape(self.performed_by_note)}"' if self.performed_by_note else ""
        ip = f'<small class="muted ip">{escape(e.ip_address)}</small>' if e.ip_address else ""
        agent = ""
        if e.user_agent and e.section == "Session":
            shown = e.user_agent if len(e.user_agent) <= 48 else e.user_agent[:47] + "…"
            agent = (
                f'<small class="muted agent" title="{escape(e.user_agent)}">'
                f"{escape(shown, quote=False)}</small>"
            )
        capacity = ""
        if self.capacity:
            over = self.capacity["over_capacity"]
            capacity = (
                f'<small class="capacity{" over" if over else ""}">'
                f"Load {self.capacity['load_before']} → {self.capacity['load_after']} "
                f"of {self.capacity['capacity']}{' · over capacity' if over else ''}</small>"
            )
        facts = "".join(
            f'<small class="context">{escape(fact, quote=False)}</small>' for fact in self.facts
        )
        subject = ""
        shown = e.subject_name or e.subject_id
        if shown:
            name = escape(str(shown))
            if self.subject_url:
                name = f'<a href="{escape(self.subject_url)}">{name}</a>'
            everything = (
                f' · <a class="object-events" href="?{escape(self.object_query)}">All events</a>'
                if self.object_query
                else ""
            )
            everything += "".join(
                f' · <a class="row-link" href="{escape(url)}">{escape(label)}</a>'
                for label, url in self.links
            )
            subject = f'<small class="subject">{name}{everything}</small>'
        return (
            f'<td class="c-actor" data-label="Performed By"{span}>'
            f'<span class="actor actor-{escape(e.actor_type)}"{note}>'
            f"{escape(self.performed_by)}</span>{ip}{agent}</td>"
            f'<td class="c-date" data-label="Date"{span}><time datetime="{self.utc_iso}" '
            f'title="{self.utc_text}">{self.local_text}</time></td>'
            f'<td class="c-event" data-label="Event"{span}>'
            f'<a class="event-link" href="{AUDIT_LOG_URL}events/{e.pk}/">'
            f"{escape(self.event_label)}</a>{facts}{capacity}</td>"
            f'<td class="c-section" data-label="Section"{span}>{escape(e.section)}{subject}</td>'
        )

    def value_cells(self) -> str:
        """Property, Before and After: once per row of the change."""
        return (
            f'<td class="c-property" data-label="Property">{escape(self.property_label)}</td>'
            f"{value_cell(self, self.before, 'before', 'Before')}"
            f"{value_cell(self, self.after, 'after', 'After')}"
        )

    @property
    def html(self) -> SafeString:
        """The row alone, as a one-row change."""
        return Group([self]).html


@dataclass(slots=True)
class Group:
    """The rows of one change (one save, one sign-in): read as one event, its performer, date,
    event and section shown once and its properties beneath. Built with string joins, not
    template tags: a page holds hundreds of cells and thousands of popover lines."""

    rows: list[Row]

    @property
    def hidden(self) -> int:
        """How many properties wait behind "Show more" (never just one)."""
        extra = len(self.rows) - GROUP_VISIBLE
        return extra if extra > 1 else 0

    @property
    def html(self) -> SafeString:
        first, hidden = self.rows[0], self.hidden
        e = first.event
        parts = [
            f'<tbody class="change" data-change-id="{escape(str(e.change_id or ""))}" '
            f'data-action="{escape(e.action)}" data-section="{escape(e.section)}">'
        ]
        for n, row in enumerate(self.rows):
            more = ' class="more" hidden' if hidden and n >= GROUP_VISIBLE else ""
            head = first.head_cells(len(self.rows) + (1 if hidden else 0)) if n == 0 else ""
            parts.append(f'<tr data-event-id="{row.event.pk}"{more}>{head}{row.value_cells()}</tr>')
        if hidden:
            parts.append(
                '<tr class="more-toggle"><td colspan="3">'
                f'<button type="button" class="link" data-expand aria-expanded="false">'
                f"Show {hidden} more properties</button> "
                f'<a class="muted" href="{AUDIT_LOG_URL}events/{e.pk}/">or open the event</a>'
                "</td></tr>"
            )
        parts.append("</tbody>")
        return mark_safe("".join(parts))  # noqa: S308 - every interpolated value is escaped


def groups(rows: Sequence[Row]) -> list[Group]:
    """Consecutive rows of one change, grouped (a page holds a change's rows together: they
    share its time and are ordered by id)."""
    result: list[Group] = []
    for row in rows:
        change = row.event.change_id
        if result and change is not None and result[-1].rows[0].event.change_id == change:
            result[-1].rows.append(row)
        else:
            result.append(Group([row]))
    return result


_LINE_TAGS = {"removed": "del", "added": "ins", "": "span"}


def value_cell(row: "Row", value: Value, which: str, title: str) -> SafeString:
    """A Before/After <td>: the truncated value as the popover's trigger, and the popover.

    Built here rather than in the template: a page of JSON diffs is thousands of lines,
    and string joins are an order of magnitude faster than template loops.
    """
    if value.empty:
        return mark_safe(  # noqa: S308 - title is one of our two constants
            f'<td class="c-value" data-label="{title}"><span class="muted">'
            '<span aria-hidden="true">—</span><span class="visually-hidden">empty</span></span></td>'
        )
    popover_id = f"v{row.event.pk}-{which}"
    heading = title + (f" · {escape(row.property_label)}" if row.property_label else "")
    changed = value.changed_lines
    if changed:
        heading += (
            f' <span class="muted">({changed} changed line{"s" if changed != 1 else ""})</span>'
        )
    json_class = " json" if value.is_json else ""
    return mark_safe(  # noqa: S308 - every interpolated value is escaped above
        f'<td class="c-value" data-label="{title}"><button type="button" class="value{json_class}" '
        f'popovertarget="{popover_id}" aria-describedby="{popover_id}">{value.cell}</button>'
        f'<div id="{popover_id}" class="value-popover" popover role="tooltip">'
        f'<p class="popover-title">{heading}</p><pre class="value-full{json_class}">{value.body}</pre></div></td>'
    )


def _body_html(lines: list[Line]) -> str:
    return "".join(
        f'<{_LINE_TAGS[line.mark]} class="line">{escape(line.text, quote=False)}</{_LINE_TAGS[line.mark]}>'
        for line in lines
    )


def performed_by_label(event: AuditEvent) -> tuple[str, str]:
    """The Performed By cell: a person's name, or the automation and its kind; plus a note."""
    kind, name = event.actor_type, (event.actor_name or "").strip()
    note = ""
    if kind == "user":
        label = name or "Deleted user"
    elif kind == "system":
        label = "System"
        reason = (event.metadata or {}).get("reason")
        if reason == "heartbeat_lapse":
            label = "System (connectivity lapse)"
            last = event.metadata.get("last_heartbeat")
            note = "Heartbeat lapsed" + (f"; last heartbeat {last}" if last else "")
        elif reason == "expired":
            label = "System (expired)"
    elif kind == "queue_router":
        label = "Queue router"
    elif kind == "anonymous":
        label = "Unknown (not signed in)"
    else:
        prefix = {"business_rule": "Business rule", "workflow": "Workflow", "api": "API"}.get(
            kind, catalog.ACTOR_TYPES.get(kind, kind)
        )
        label = f"{prefix}: {name}" if name and name.lower() != prefix.lower() else prefix
    return label, note


def _is_structured(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and any(isinstance(item, dict | list) for item in value)
    )


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    return json.dumps(value, ensure_ascii=False)


# jsonb keeps no key order; show the keys of criteria and actions in reading order, the
# rest alphabetically, so the same value always prints (and diffs) the same way.
READING_ORDER = ("name", "type", "match", "conditions", "field", "operator", "value")


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        rank = {key: n for n, key in enumerate(READING_ORDER)}
        keys = sorted(value, key=lambda key: (rank.get(key, len(rank)), key))
        return {key: _ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _pretty(value: Any) -> str:
    return json.dumps(_ordered(value), ensure_ascii=False, indent=2)


def _short(text: str) -> tuple[str, bool]:
    one_line = " ".join(text.split())
    if len(one_line) <= CELL_CHARS:
        return one_line, one_line != text
    return one_line[: CELL_CHARS - 1].rstrip() + "…", True


def _value(
    raw: Any,
    full: str,
    is_json: bool,
    lines: list[Line],
    *,
    cell: str | None = None,
    body: str | None = None,
) -> Value:
    if is_json:
        short, truncated = _short(json.dumps(_ordered(raw), ensure_ascii=False))
        truncated = True  # the popover's pretty-printed form always says more than the cell
    elif raw is not None and not full.strip():
        # An empty string or list is a value too ("" -> "+1 555…"): say so visibly.
        short, truncated, full, lines = EMPTY, False, EMPTY, [Line(EMPTY)]
        cell = body = None
    else:
        short, truncated = _short(full)
    if body is None:
        body = _body_html(lines or [Line(full)]) if raw is not None else ""
    if cell is None:
        cell = escape(short, quote=False)
    return Value(raw, short, full, is_json, truncated, lines, body, cell)


# Words, runs of spaces and single punctuation marks: what a word-level difference pairs.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_WORD_TAGS = {"removed": "del", "added": "ins"}
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=4096)
def word_diff(before: str, after: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Both texts as segments (text, mark): the words only in `before` marked "removed", only
    in `after` "added", the rest "". Texts longer than WORD_DIFF_TOKENS words each come back
    whole and unmarked (the popover shows them line by line)."""
    old, new = _TOKEN.findall(before), _TOKEN.findall(after)
    if len(old) > WORD_DIFF_TOKENS or len(new) > WORD_DIFF_TOKENS:
        return ((before, ""),), ((after, ""),)
    old_segments: list[tuple[str, str]] = []
    new_segments: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            old_segments.append(("".join(old[i1:i2]), ""))
            new_segments.append(("".join(new[j1:j2]), ""))
            continue
        if i2 > i1:
            old_segments.append(("".join(old[i1:i2]), "removed"))
        if j2 > j1:
            new_segments.append(("".join(new[j1:j2]), "added"))
    return tuple(old_segments), tuple(new_segments)


def _segments_html(segments: Iterable[tuple[str, str]]) -> str:
    return "".join(
        f"<{_WORD_TAGS[mark]}>{escape(text, quote=False)}</{_WORD_TAGS[mark]}>"
        if mark
        else escape(text, quote=False)
        for text, mark in segments
    )


def _snippet_html(segments: Sequence[tuple[str, str]], limit: int = CELL_CHARS) -> str:
    """One line of at most `limit` characters around the first marked words: the cell shows
    what changed without a hover."""
    flat = [(_SPACES.sub(" ", text), mark) for text, mark in segments]
    first = next((n for n, (_, mark) in enumerate(flat) if mark), 0)
    lead = "".join(text for text, _ in flat[:first])
    prefix = ""
    if len(lead) > limit // 3:
        lead, prefix = lead[-(limit // 3) :].lstrip(), "…"
    parts, used = [escape(prefix + lead, quote=False)], len(prefix) + len(lead)
    for text, mark in flat[first:]:
        room = limit - used
        if room <= 0:
            parts.append("…")
            break
        piece = text if len(text) <= room else text[: max(room - 1, 1)] + "…"
        used += len(piece)
        escaped = escape(piece, quote=False)
        parts.append(f"<{_WORD_TAGS[mark]}>{escaped}</{_WORD_TAGS[mark]}>" if mark else escaped)
        if piece is not text:
            break
    return "".join(parts).strip()


def _text_pair(before: Any, after: Any) -> tuple[Value, Value]:
    before_text, after_text = _plain(before), _plain(after)
    before_lines = [Line(t) for t in before_text.splitlines()]
    after_lines = [Line(t) for t in after_text.splitlines()]
    if before is None or after is None or not before_text.strip() or not after_text.strip():
        return (
            _value(before, before_text, False, before_lines),
            _value(after, after_text, False, after_lines),
        )
    old, new = word_diff(before_text, after_text)
    return (
        _value(
            before,
            before_text,
            False,
            before_lines,
            cell=_snippet_html(old),
            body=_segments_html(old),
        ),
        _value(
            after, after_text, False, after_lines, cell=_snippet_html(new), body=_segments_html(new)
        ),
    )


def before_after(before: Any, after: Any) -> tuple[Value, Value]:
    """Both cells of a row; JSON values get line marks from a diff of their pretty forms."""
    if _is_structured(before) or _is_structured(after):
        # The same criteria and actions recur on many rows: diff each pair once (small
        # values only, so the cache stays small).
        old, new = _canonical(before), _canonical(after)
        if len(old or "") + len(new or "") <= CACHED_JSON_CHARS:
            return _structured_pair(old, new)
        return _structured_pair.__wrapped__(old, new)
    return _text_pair(before, after)


def _canonical(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@lru_cache(maxsize=2048)
def _structured_pair(before_json: str | None, after_json: str | None) -> tuple[Value, Value]:
    before = None if before_json is None else json.loads(before_json)
    after = None if after_json is None else json.loads(after_json)
    old = _pretty(before).splitlines() if before is not None else []
    new = _pretty(after).splitlines() if after is not None else []
    old_marks = [""] * len(old)
    new_marks = [""] * len(new)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            old_marks[i1:i2] = ["removed"] * (i2 - i1)
        if tag in ("replace", "insert"):
            new_marks[j1:j2] = ["added"] * (j2 - j1)
    # A value created from nothing (or deleted to nothing) is not "a difference" line by line.
    if before is None:
        new_marks = [""] * len(new)
    if after is None:
        old_marks = [""] * len(old)
    old_lines = [Line(t, m) for t, m in zip(old, old_marks, strict=True)]
    new_lines = [Line(t, m) for t, m in zip(new, new_marks, strict=True)]
    return (
        _value(
            before, "\n".join(old), before is not None, old_lines, cell=_changed_line(old_lines)
        ),
        _value(after, "\n".join(new), after is not None, new_lines, cell=_changed_line(new_lines)),
    )


def _changed_line(lines: list[Line]) -> str | None:
    """A JSON cell shows its first changed line (marked), not the value's unchanged start,
    and how many more lines changed; None (the value's start) when no line is marked."""
    changed = [line for line in lines if line.mark]
    if not changed:
        return None
    text, _ = _short(changed[0].text.strip().rstrip(","))
    tag = _LINE_TAGS[changed[0].mark]
    more = f' <small class="more-lines">+{len(changed) - 1}</small>' if len(changed) > 1 else ""
    return f"<{tag}>{escape(text, quote=False)}</{tag}>{more}"


def property_label(name: str | None) -> str:
    if not name:
        return ""
    return name.replace("_", " ").capitalize()


_URL_ID = 918273645  # a placeholder id no URL prefix contains


def subject_urls(
    events: Sequence[AuditEvent], existing: dict[str, set[str]] | None = None
) -> dict[tuple[str, str], str]:
    """Links to the subjects of these rows that still exist in the current organisation: one
    query for all the subject types (a UNION ALL; a page of mixed events names up to eight),
    none for a type whose existing ids the caller already knows."""
    pages = declare.subject_pages()
    wanted: dict[str, set[str]] = {}
    for event in events:
        if event.subject_id and event.subject_type in pages:
            wanted.setdefault(event.subject_type, set()).add(event.subject_id)
    org_id = context.current().org_id
    if org_id is None:
        raise TenantScopeError("subject_urls needs an organisation in scope")
    patterns: dict[str, str] = {}
    found: set[tuple[str, str]] = set()
    lookups = []
    for subject_type, ids in wanted.items():
        model, url_name = pages[subject_type]
        try:
            # Reverse once and fill in each id: reverse() per row costs more than the query.
            patterns[subject_type] = reverse(url_name, args=[_URL_ID])
        except NoReverseMatch:
            continue
        if existing and subject_type in existing:
            found.update((subject_type, pk) for pk in ids & existing[subject_type])
            continue
        pks = [int(pk) for pk in ids if pk.isdigit() and len(pk) < 19]
        if pks:
            meta = model._meta
            lookups.append(
                (
                    f"SELECT %s::text, {connection.ops.quote_name(meta.pk.column)} "
                    f"FROM {connection.ops.quote_name(meta.db_table)} "
                    f"WHERE {connection.ops.quote_name(meta.get_field('org').column)} = %s "
                    f"AND {connection.ops.quote_name(meta.pk.column)} = ANY(%s)",
                    [subject_type, org_id, pks],
                )
            )
    if lookups:
        # Written as SQL: compiling eight ORM querysets cost ~2 ms a page, the query 0.3.
        # Scoped to the current organisation like the models' managers: another
        # organisation's id can never become a link.
        with connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join(sql for sql, _ in lookups),
                [param for _, params in lookups for param in params],
            )
            found.update((subject_type, str(pk)) for subject_type, pk in cursor.fetchall())
    return {
        (subject_type, pk): patterns[subject_type].replace(str(_URL_ID), pk)
        for subject_type, pk in found
    }


SIGN_IN_FAILURES = {
    "wrong_password": "Wrong password",
    "unknown_email": "No account with that email",
    "inactive": "Account deactivated",
    "locked": "Account locked",
    "refused": "Refused",
}


def context_facts(event: AuditEvent, tz: tzinfo) -> tuple[str, ...]:
    """What a row's metadata adds that people ask about first: why a sign-in failed and which
    email was tried; a lockout's attempts and when it ends; why the system acted."""
    metadata = event.metadata or {}
    facts: list[str] = []
    if event.action == "login_failed":
        reason = metadata.get("reason")
        if reason:
            facts.append(SIGN_IN_FAILURES.get(reason, str(reason)))
    if event.action in ("login_failed", "lockout") and metadata.get("email_tried"):
        facts.append(f"Tried: {metadata['email_tried']}")
    if event.action == "lockout":
        if metadata.get("failed_attempts"):
            facts.append(f"{metadata['failed_attempts']} failed attempts")
        unlock = metadata.get("unlock_at")
        if unlock:
            try:
                facts.append(f"Unlocks {datetime.fromisoformat(unlock).astimezone(tz):%H:%M}")
            except (TypeError, ValueError):
                facts.append(f"Unlocks {unlock}")
    return tuple(facts)


def capacity_facts(event: AuditEvent) -> dict[str, Any] | None:
    metadata = event.metadata or {}
    if event.section != "Work Session" or "capacity" not in metadata:
        return None
    return {
        "load_before": metadata.get("load_before"),
        "load_after": metadata.get("load_after"),
        "capacity": metadata.get("capacity"),
        "over_capacity": bool(metadata.get("over_capacity")),
    }


def rows(
    events: Iterable[AuditEvent],
    tz: tzinfo,
    object_query: Any,
    existing: dict[str, set[str]] | None = None,
    links: Callable[[AuditEvent], Iterable[tuple[str, str]]] | None = None,
) -> list[Row]:
    """Viewer rows for events; `object_query(event)` builds the "all events for this object"
    query; `existing` may name ids per subject type already known to exist; `links(event)`
    gives more (label, URL) links for the row's subject."""
    events = list(events)
    urls = subject_urls(events, existing or {})
    result = []
    for event in events:
        label, note = performed_by_label(event)
        before, after = before_after(event.before, event.after)
        result.append(
            Row(
                event=event,
                performed_by=label,
                performed_by_note=note,
                local_text=timefmt.datetime_text(event.occurred_at, tz),
                utc_iso=f"{event.occurred_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
                utc_text=f"{event.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
                event_label=catalog.ACTIONS.get(event.action, event.action),
                property_label=property_label(event.property),
                before=before,
                after=after,
                subject_url=urls.get((event.subject_type, event.subject_id or "")),
                object_query=object_query(event) if event.subject_id else None,
                capacity=capacity_facts(event),
                facts=context_facts(event, tz),
                links=tuple(links(event)) if links is not None else (),
            )
        )
    return result


_PLACEHOLDER = 918273645  # an id no URL prefix contains


def row_links(tz: Any) -> Callable[[AuditEvent], list[tuple[str, str]]]:
    """For the Audit Log page: each row's "History" link (objects with a History page) and the
    links its section declares (`Link`: a Work Session row's timeline of that day). URLs are
    reversed once."""
    history_patterns = {
        subject_type: reverse("audit_history", args=[subject_type, _PLACEHOLDER])
        for subject_type in declare.with_history()
    }
    section_links = {
        section: [
            (link.label, reverse(link.url_name, args=[_PLACEHOLDER]), link.per_day)
            for link in declared
        ]
        for section, declared in declare.row_links().items()
    }

    def links(event: AuditEvent) -> list[tuple[str, str]]:
        subject_id = event.subject_id or ""
        pattern = history_patterns.get(event.subject_type)
        if pattern is None or not subject_id.isdigit() or len(subject_id) > 18:
            return []
        result = [("History", pattern.replace(str(_PLACEHOLDER), subject_id))]
        for label, url_pattern, per_day in section_links.get(event.section, ()):
            url = url_pattern.replace(str(_PLACEHOLDER), subject_id)
            if per_day:
                url += f"?start={event.occurred_at.astimezone(tz).date().isoformat()}"
            result.append((label, url))
        return result

    return links
