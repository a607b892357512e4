"""The search language of the Audit Log's search box and the API's `q` (SPEC §8.5).

    actor:ada@acme.test type:settings -actor_type:system section:"Business Rule"
    ip:203.0.113.0/24 created:>=2026-11-01 refund

Qualifiers (`name:value`, the value bare or in double quotes, `\\"` inside quotes for a quote)
narrow the events; `-` before one excludes what it matches; bare words are free text, as
before. A query is rewritten into the filter parameters the page and the API already take
(`type:` -> `event_type`, `actor:` -> `actor_type` + `performed_by`, `created:` -> `start`
and `end`, …), so it runs the very same query, with the same indexes and keyset paging;
what parameters cannot say (a negation, an address range) becomes a condition added to that
query. Mistakes are reported as the `q` parameter's error, naming the qualifier.

A small hand-written parser: the grammar is a flat sequence of terms (no parentheses, no
OR), which a parser generator would not make clearer; `tests/auditlog/test_query_language.py`
checks it with property-based tests (hypothesis).
"""

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import GenericIPAddressField, Lookup, Q

from auditlog import catalog

QUALIFIERS: dict[str, str] = {
    "actor": "who did it: an email, a name, or type:id (user:7, api:3, system)",
    "actor_type": "performer type: " + ", ".join(catalog.ACTOR_TYPES),
    "type": "event type: " + ", ".join(catalog.EVENT_TYPES),
    "action": "action: " + ", ".join(catalog.ACTIONS),
    "section": 'section, e.g. section:"Business Rule"',
    "property": "property name, e.g. property:email",
    "kind": "settings kind, e.g. kind:business_rule",
    "ip": "client address or CIDR range, e.g. ip:203.0.113.0/24",
    "subject": "the object acted on, subject:TYPE:ID (subject:user:7)",
    "created": "when: >=DATE, >DATE, <DATE, <=DATE, DATE..DATE or DATE (YYYY-MM-DD or ISO 8601)",
}
MAX_QUERY = 1000
MAX_TERMS = 30


class QueryError(ValueError):
    """The query cannot be run; `message` says why, naming the qualifier."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Term:
    qualifier: str | None  # None: a free-text word
    value: str
    negated: bool = False


def _allowed() -> str:
    return ", ".join(f"{name}:" for name in QUALIFIERS)


_QUALIFIER = re.compile(r"([A-Za-z_]+):")


def parse(text: str) -> list[Term]:
    """The terms of a query, in order. Raises QueryError for an unknown qualifier, an empty
    value or an unclosed quote."""
    if len(text) > MAX_QUERY:
        raise QueryError(f"The query is longer than {MAX_QUERY} characters.")
    terms: list[Term] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = False
        start = i
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            negated, i = True, i + 1
        match = _QUALIFIER.match(text, i)
        qualifier = None
        if match and match.group(1).lower() in QUALIFIERS:
            qualifier, i = match.group(1).lower(), match.end()
        elif match and not (text.startswith("http", i) or match.group(1).isdigit()):
            raise QueryError(f"Unknown qualifier {match.group(1)}:; use one of: {_allowed()}.")
        value, i = _value(text, i, qualifier)
        if qualifier is None and negated:
            # "-word": free text keeps its hyphen (a phone number, "-1" as a value).
            value = text[start:i] if not text[start + 1 : start + 2] == '"' else "-" + value
            negated = False
        if qualifier is not None and value == "":
            raise QueryError(f"{qualifier}: needs a value ({QUALIFIERS[qualifier]}).")
        if value != "" or qualifier is not None:
            terms.append(Term(qualifier, value, negated))
        if len(terms) > MAX_TERMS:
            raise QueryError(f"Use at most {MAX_TERMS} terms.")
    return terms


def _value(text: str, i: int, qualifier: str | None) -> tuple[str, int]:
    n = len(text)
    if i < n and text[i] == '"':
        out, i = [], i + 1
        while i < n and text[i] != '"':
            if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\':
                i += 1
            out.append(text[i])
            i += 1
        if i >= n:
            where = f"{qualifier}:" if qualifier else "the search"
            raise QueryError(f"A quote in {where} is not closed.")
        return "".join(out), i + 1
    end = i
    while end < n and not text[end].isspace():
        end += 1
    return text[i:end], end


def unparse(terms: list[Term]) -> str:
    """The query text of `terms` (quoting values that need it): parse(unparse(t)) == t."""
    parts = []
    for term in terms:
        value = term.value
        if value == "" or any(c.isspace() or c == '"' for c in value) or value.startswith("-"):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif term.qualifier is None and (_QUALIFIER.match(value) or value.startswith('"')):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        prefix = "-" if term.negated else ""
        parts.append(f"{prefix}{term.qualifier}:{value}" if term.qualifier else value)
    return " ".join(parts)


# --------------------------------------------------------------------------- compiling


class NetContainedOrEqual(Lookup):
    """`inet_column <<= cidr`: an address within a range (PostgreSQL network operators)."""

    lookup_name = "net_within"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} <<= {rhs}::cidr", [*lhs_params, *rhs_params]


GenericIPAddressField.register_lookup(NetContainedOrEqual)


@dataclass
class Compiled:
    """A query as filter parameters plus conditions parameters cannot say."""

    params: dict[str, str] = field(default_factory=dict)
    conditions: list[Q] = field(default_factory=list)  # served by the indexes' rows
    scanned: list[Q] = field(default_factory=list)  # address ranges: walked like `ip`


def compile_query(org: Any, text: str) -> Compiled:
    """`text` as filter parameters (free text as `q`) and extra conditions."""
    compiled = Compiled()
    words: list[str] = []
    for term in parse(text):
        if term.qualifier is None:
            words.append(term.value)
        else:
            _compile_term(org, term, compiled)
    if words:
        compiled.params["q"] = " ".join(words)
    return compiled


def _set(compiled: Compiled, name: str, value: str, qualifier: str) -> None:
    if name in compiled.params and compiled.params[name] != value:
        raise QueryError(f"{qualifier}: is given twice; use it once.")
    compiled.params[name] = value


def _choice(term: Term, choices: Any, what: str) -> str:
    value = term.value
    if value not in choices:
        matches = [choice for choice in choices if choice.lower() == value.lower()]
        if len(matches) != 1:
            raise QueryError(
                f"{term.qualifier}:{value} is not a {what}; use one of: {', '.join(choices)}."
            )
        value = matches[0]
    return value


def _compile_term(org: Any, term: Term, compiled: Compiled) -> None:
    q = term.qualifier
    if q == "type":
        value = _choice(term, catalog.EVENT_TYPES, "event type")
        if term.negated:
            compiled.conditions.append(~Q(event_type=value))
        else:
            current = compiled.params.get("event_type")
            compiled.params["event_type"] = f"{current},{value}" if current else value
    elif q in ("action", "actor_type", "section", "kind", "property"):
        choices = {
            "action": catalog.ACTIONS,
            "actor_type": catalog.ACTOR_TYPES,
            "section": catalog.section_names(),
            "kind": catalog.settings_kinds(),
            "property": None,
        }[q]
        value = term.value if choices is None else _choice(term, choices, q.replace("_", " "))
        if q == "property" and len(value) > 64:
            raise QueryError("property: is at most 64 characters.")
        if term.negated:
            if q == "kind":
                condition = Q(event_type="settings", subject_type=catalog.kind_subject_type(value))
            else:
                condition = Q(**{q: value})
            compiled.conditions.append(~condition)
        else:
            _set(compiled, q, value, q)
    elif q == "actor":
        actor_type, actor_id, name = _actor(org, term.value)
        if actor_id == NOBODY:
            if not term.negated:
                compiled.conditions.append(Q(pk__in=[]))
            return
        if term.negated:
            if name is not None:
                compiled.conditions.append(~Q(actor_name__iexact=name))
            elif actor_id is None:
                compiled.conditions.append(~Q(actor_type=actor_type))
            else:
                compiled.conditions.append(~Q(actor_type=actor_type, actor_id=actor_id))
        elif name is not None:
            compiled.conditions.append(Q(actor_name__iexact=name))
        else:
            _set(compiled, "actor_type", actor_type, "actor")
            if actor_id is not None:
                _set(compiled, "performed_by", actor_id, "actor")
    elif q == "subject":
        subject_type, _, subject_id = term.value.partition(":")
        if not subject_type or not subject_id:
            raise QueryError(f"subject:{term.value} needs TYPE:ID, e.g. subject:user:7.")
        if term.negated:
            compiled.conditions.append(~Q(subject_type=subject_type, subject_id=subject_id))
        else:
            _set(compiled, "subject_type", subject_type, "subject")
            _set(compiled, "subject_id", subject_id, "subject")
    elif q == "ip":
        try:
            network = ipaddress.ip_network(term.value, strict=False)
        except ValueError:
            raise QueryError(f"ip:{term.value} is not an address or CIDR range.") from None
        single = "/" not in term.value
        if term.negated:
            # Rows without an address are outside every range: they stay in the complement.
            compiled.scanned.append(
                ~Q(ip_address=str(network.network_address))
                if single
                else ~Q(ip_address__net_within=str(network))
            )
        elif single:
            _set(compiled, "ip", str(network.network_address), "ip")
        else:
            compiled.scanned.append(Q(ip_address__net_within=str(network)))
    elif q == "created":
        if term.negated:
            raise QueryError("created: cannot be negated; give the range you want.")
        start, end = _created(term.value)
        if start:
            _set(compiled, "start", start, "created")
        if end:
            _set(compiled, "end", end, "created")


def _actor(org: Any, value: str) -> tuple[str, str | None, str | None]:
    """(actor_type, actor id or None, name or None) of an actor: value."""
    kind, colon, ident = value.partition(":")
    if colon and kind in catalog.ACTOR_TYPES:
        if not ident.isdigit() or len(ident) > 18:
            raise QueryError(f"actor:{value}: the id after {kind}: must be a number.")
        return kind, ident, None
    if value in catalog.ACTOR_TYPES:
        return value, None, None
    if "@" in value:
        from accounts.models import User

        user_id = (
            User.all_tenants.filter(org_id=org.pk, email__iexact=value)
            .values_list("pk", flat=True)
            .first()
        )
        # Nobody by that email in this organisation: nothing matches (not an error: the
        # person may have left), or, negated, everything does.
        return "user", str(user_id) if user_id is not None else NOBODY, None
    return "user", None, value


NOBODY = "nobody"  # an actor: email no one in the organisation has

_RANGE = re.compile(r"^(>=|<=|>|<)?(.+)$")


def _created(value: str) -> tuple[str | None, str | None]:
    """(start, end) filter values for a created: value."""
    if ".." in value:
        low, _, high = value.partition("..")
        return (_when(low, "created") if low else None), (_when(high, "created") if high else None)
    op, when = _RANGE.match(value).groups()
    when = _when(when, "created")
    if op is None:
        return when, when  # one day (or one instant) both ways
    if op == ">=":
        return when, None
    if op == "<=":
        return None, when
    if op == ">":
        if len(when) == 10:
            return date.fromordinal(date.fromisoformat(when).toordinal() + 1).isoformat(), None
        return when, None
    # "<": before that day (or instant).
    if len(when) == 10:
        return None, date.fromordinal(date.fromisoformat(when).toordinal() - 1).isoformat()
    return None, when


def _when(text: str, qualifier: str) -> str:
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text.upper())
    except ValueError:
        raise QueryError(
            f"{qualifier}: {text!r} is not a date (YYYY-MM-DD) or ISO 8601 date-time."
        ) from None
    return text


def from_params(params: dict[str, str]) -> str:
    """The search-language query saying what these filter parameters say (for a saved view
    of the page as it is): compile_query(from_params(p)) selects what p selects."""
    terms: list[Term] = []
    for event_type in filter(None, params.get("event_type", "").split(",")):
        terms.append(Term("type", event_type.strip()))
    for name in ("action", "section", "property", "kind"):
        if params.get(name):
            terms.append(Term(name, params[name]))
    actor_type, performed_by = params.get("actor_type"), params.get("performed_by")
    if performed_by:
        terms.append(Term("actor", f"{actor_type or 'user'}:{performed_by}"))
    elif actor_type:
        terms.append(Term("actor_type", actor_type))
    if params.get("ip"):
        terms.append(Term("ip", params["ip"]))
    subject_id = params.get("subject_id")
    if params.get("user") or params.get("agent"):
        subject_id = params.get("user") or params.get("agent")
        terms.append(Term("subject", f"user:{subject_id}"))
    elif subject_id:
        subject_type = params.get("subject_type")
        if not subject_type:
            types = [t for t in params.get("event_type", "").split(",") if t]
            subject_type = catalog.single_subject_type(types[0]) if len(types) == 1 else None
        if subject_type:
            terms.append(Term("subject", f"{subject_type}:{subject_id}"))
    start, end = params.get("start"), params.get("end")
    if start or end:
        terms.append(Term("created", f"{start or ''}..{end or ''}"))
    text = unparse(terms)
    if params.get("q"):
        text = f"{text} {params['q']}".strip()
    return text
