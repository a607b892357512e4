"""The condition language of saved searches and business rules, and the actions rules take.

Criteria are JSON: ``{"match": "all"|"any", "conditions": [{"field", "operator", "value"}]}``.
They are evaluated against a plain dict of a conversation's values (see ``FIELDS``), so the
same rules work for a conversation being saved, a search over stored ones, or a preview.

Comparisons of text are case-insensitive (``"VIP"`` matches the tag ``"vip"``); a criteria
with no conditions matches every conversation. Validation normalises the structure (key
order, stripped strings, canonical case for choice values) so that stored criteria, and the
audit rows that show their before and after, compare cleanly.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

STATUSES: tuple[str, ...] = ("open", "snoozed", "done")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")

MATCH_MODES: tuple[str, ...] = ("all", "any")
MAX_CONDITIONS = 50
MAX_ACTIONS = 20
MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class Field:
    """A conversation property a condition can test."""

    name: str
    label: str
    kind: str  # "choice", "text" or "list"
    choices: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("status", "Status", "choice", STATUSES),
        Field("priority", "Priority", "choice", PRIORITIES),
        Field("queue", "Queue", "text"),
        Field("tags", "Tags", "list"),
        Field("subject", "Subject", "text"),
        Field("customer_email", "Customer email", "text"),
        Field("customer_tags", "Customer tags", "list"),
    )
}

# Which operators make sense for which kind of field. On a list field, `contains` means
# "has this element" and `in` means "has any of these elements".
OPERATORS: dict[str, str] = {
    "equals": "equals",
    "not_equals": "does not equal",
    "contains": "contains",
    "not_contains": "does not contain",
    "in": "is any of",
    "starts_with": "starts with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
}
OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    "choice": ("equals", "not_equals", "in"),
    "text": (
        "equals",
        "not_equals",
        "contains",
        "not_contains",
        "in",
        "starts_with",
        "is_empty",
        "is_not_empty",
    ),
    "list": ("contains", "not_contains", "in", "is_empty", "is_not_empty"),
}
VALUELESS_OPERATORS = frozenset({"is_empty", "is_not_empty"})

ACTION_TYPES: dict[str, str] = {
    "set_priority": "Set priority",
    "add_tag": "Add tag",
    "set_queue": "Set queue",
    "assign_to": "Assign to",
}

DEFAULT_CRITERIA: dict[str, Any] = {"match": "all", "conditions": []}


def default_criteria() -> dict[str, Any]:
    """A fresh empty criteria (a callable default for JSONFields)."""
    return {"match": "all", "conditions": []}


def _parse(data: Any, what: str) -> Any:
    """Accept either decoded JSON or JSON text (as typed into a form or sent by a client)."""
    if isinstance(data, str | bytes | bytearray):
        try:
            return json.loads(data)
        except json.JSONDecodeError as problem:
            raise ValidationError(
                f"{what} is not valid JSON: {problem.msg} (line {problem.lineno}, "
                f"column {problem.colno})."
            ) from None
        except RecursionError:
            raise ValidationError(f"{what} is nested too deeply.") from None
    return data


def _text(value: Any, where: str, *, allow_blank: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{where}: the value must be text, not {_type_name(value)}.")
    value = value.strip()
    if not value and not allow_blank:
        raise ValidationError(f"{where}: the value must not be blank.")
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{where}: the value is longer than {MAX_TEXT} characters.")
    return value


def _type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _choice(value: str, field: Field, where: str) -> str:
    folded = value.casefold()
    if folded not in field.choices:
        raise ValidationError(
            f"{where}: {value!r} is not a valid {field.name} (choose from {', '.join(field.choices)})."
        )
    return folded


def _condition(raw: Any, number: int) -> dict[str, Any]:
    where = f"condition {number}"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be an object with field, operator and value.")
    unknown = sorted(set(raw) - {"field", "operator", "value"})
    if unknown:
        raise ValidationError(f"{where}: unknown key {unknown[0]!r} (use field, operator, value).")
    name = raw.get("field")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{where}: missing 'field'.")
    field = FIELDS.get(name)
    if field is None:
        raise ValidationError(
            f"{where}: unknown field {name!r} (known fields: {', '.join(FIELDS)})."
        )
    operator = raw.get("operator")
    if not isinstance(operator, str) or not operator:
        raise ValidationError(f"{where}: missing 'operator'.")
    if operator not in OPERATORS:
        raise ValidationError(
            f"{where}: unknown operator {operator!r} (known operators: {', '.join(OPERATORS)})."
        )
    allowed = OPERATORS_BY_KIND[field.kind]
    if operator not in allowed:
        raise ValidationError(
            f"{where}: operator {operator!r} cannot be used with field {name!r} "
            f"(use {', '.join(allowed)})."
        )
    value = raw.get("value")
    if operator in VALUELESS_OPERATORS:
        if value not in (None, "", []):
            raise ValidationError(f"{where}: operator {operator!r} takes no value.")
        return {"field": name, "operator": operator, "value": None}
    where = f"{where} ({name} {operator})"
    if operator == "in":
        if not isinstance(value, list) or not value:
            raise ValidationError(f"{where}: the value must be a non-empty list.")
        values = [_text(item, where) for item in value]
        if field.kind == "choice":
            values = [_choice(item, field, where) for item in values]
        return {"field": name, "operator": operator, "value": values}
    text = _text(value, where, allow_blank=operator in ("equals", "not_equals"))
    if field.kind == "choice":
        text = _choice(text, field, where)
    return {"field": name, "operator": operator, "value": text}


def validate_criteria(data: Any) -> dict[str, Any]:
    """Check criteria (decoded or as JSON text) and return them normalised.

    Raises ValidationError with a message naming the offending field, operator or value.
    """
    data = _parse(data, "Criteria")
    if not isinstance(data, dict):
        raise ValidationError(
            'Criteria must be an object like {"match": "all", "conditions": [...]}, '
            f"not {_type_name(data)}."
        )
    unknown = sorted(set(data) - {"match", "conditions"})
    if unknown:
        raise ValidationError(f"Criteria: unknown key {unknown[0]!r} (use match, conditions).")
    match = data.get("match", "all")
    if match not in MATCH_MODES:
        raise ValidationError(f'Criteria: \'match\' must be "all" or "any", not {match!r}.')
    conditions = data.get("conditions", [])
    if not isinstance(conditions, list):
        raise ValidationError("Criteria: 'conditions' must be a list.")
    if len(conditions) > MAX_CONDITIONS:
        raise ValidationError(f"Criteria: at most {MAX_CONDITIONS} conditions.")
    return {
        "match": match,
        "conditions": [_condition(raw, n) for n, raw in enumerate(conditions, start=1)],
    }


def _assignable_user_id(value: Any, where: str) -> int:
    # Imported here: criteria is imported by models at load time, before the app registry.
    from accounts.models import User

    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"{where}: the value must be a user id.")
    try:
        user_id = int(value)
    except ValueError:
        raise ValidationError(f"{where}: {value!r} is not a user id.") from None
    # `User.objects` is scoped to the current organisation: another tenant's id is unknown.
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        raise ValidationError(f"{where}: no active user with id {user_id} in this organisation.")
    return user_id


def _action(raw: Any, number: int) -> dict[str, Any]:
    where = f"action {number}"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be an object with type and value.")
    unknown = sorted(set(raw) - {"type", "value"})
    if unknown:
        raise ValidationError(f"{where}: unknown key {unknown[0]!r} (use type, value).")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValidationError(f"{where}: missing 'type'.")
    if kind not in ACTION_TYPES:
        raise ValidationError(
            f"{where}: unknown action {kind!r} (known actions: {', '.join(ACTION_TYPES)})."
        )
    where = f"{where} ({kind})"
    value = raw.get("value")
    if kind == "set_priority":
        return {"type": kind, "value": _choice(_text(value, where), FIELDS["priority"], where)}
    if kind == "assign_to":
        return {"type": kind, "value": _assignable_user_id(value, where)}
    text = _text(value, where)
    if kind == "add_tag":
        text = text.casefold()  # tags are compared case-insensitively; store one spelling
    return {"type": kind, "value": text}


def validate_actions(data: Any) -> list[dict[str, Any]]:
    """Check a rule's actions (decoded or as JSON text) and return them normalised.

    `assign_to` must name an active user of the current organisation.
    """
    data = _parse(data, "Actions")
    if not isinstance(data, list):
        raise ValidationError(
            'Actions must be a list like [{"type": "set_priority", "value": "high"}], '
            f"not {_type_name(data)}."
        )
    if not data:
        raise ValidationError("Actions: a rule needs at least one action.")
    if len(data) > MAX_ACTIONS:
        raise ValidationError(f"Actions: at most {MAX_ACTIONS} actions.")
    return [_action(raw, n) for n, raw in enumerate(data, start=1)]


# Evaluation ---------------------------------------------------------------------------------


def _fold(value: Any) -> str:
    return "" if value is None else str(value).casefold()


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.casefold()] if value else []
    if isinstance(value, Iterable):
        return [_fold(item) for item in value]
    return [_fold(value)]


def _test_text(operator: str, actual: Any, expected: Any) -> bool:
    have = _fold(actual)
    if operator == "is_empty":
        return have == ""
    if operator == "is_not_empty":
        return have != ""
    if operator == "in":
        return have in {_fold(item) for item in expected}
    want = _fold(expected)
    tests: dict[str, Callable[[], bool]] = {
        "equals": lambda: have == want,
        "not_equals": lambda: have != want,
        "contains": lambda: want in have,
        "not_contains": lambda: want not in have,
        "starts_with": lambda: have.startswith(want),
    }
    test = tests.get(operator)
    return bool(test and test())


def _test_list(operator: str, actual: Any, expected: Any) -> bool:
    have = _as_list(actual)
    if operator == "is_empty":
        return not have
    if operator == "is_not_empty":
        return bool(have)
    if operator == "contains":
        return _fold(expected) in have
    if operator == "not_contains":
        return _fold(expected) not in have
    if operator == "in":
        return bool(set(have) & {_fold(item) for item in expected})
    return False


def condition_matches(condition: dict[str, Any], values: dict[str, Any]) -> bool:
    """One condition against a conversation's values; one it cannot evaluate does not match."""
    field = FIELDS.get(condition.get("field", ""))
    operator = condition.get("operator")
    if field is None or operator not in OPERATORS_BY_KIND[field.kind]:
        return False
    actual = values.get(field.name)
    expected = condition.get("value")
    if operator == "in" and not isinstance(expected, list):
        return False
    if field.kind == "list":
        return _test_list(operator, actual, expected)
    return _test_text(operator, actual, expected)


def matches(criteria: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether a conversation, given as a dict of FIELDS -> value, satisfies the criteria.

    Missing keys count as empty. No conditions: everything matches.
    """
    conditions = (criteria or {}).get("conditions") or []
    if not conditions:
        return True
    results = (condition_matches(condition, values) for condition in conditions)
    if (criteria or {}).get("match", "all") == "any":
        return any(results)
    return all(results)


# Presentation ---------------------------------------------------------------------------------


def canonical(data: Any) -> Any:
    """The same criteria or actions with keys in reading order (field, operator, value).

    PostgreSQL's jsonb does not keep key order; this puts it back for people to read.
    """
    order = ("match", "conditions", "field", "operator", "type", "value")
    if isinstance(data, dict):
        keys = sorted(data, key=lambda key: order.index(key) if key in order else len(order))
        return {key: canonical(data[key]) for key in keys}
    if isinstance(data, list):
        return [canonical(item) for item in data]
    return data


def describe_condition(condition: dict[str, Any]) -> str:
    field = FIELDS.get(condition.get("field", ""))
    label = field.label if field else str(condition.get("field"))
    operator = OPERATORS.get(condition.get("operator", ""), str(condition.get("operator")))
    value = condition.get("value")
    if value is None:
        return f"{label} {operator}"
    if isinstance(value, list):
        return f"{label} {operator} {', '.join(map(str, value))}"
    return f'{label} {operator} "{value}"'


def describe_criteria(criteria: dict[str, Any]) -> str:
    """One human line: 'All of: Priority equals "high"; Tags contains "vip"'."""
    conditions = (criteria or {}).get("conditions") or []
    if not conditions:
        return "Every conversation"
    joined = "; ".join(describe_condition(condition) for condition in conditions)
    mode = "Any of" if (criteria or {}).get("match") == "any" else "All of"
    return f"{mode}: {joined}"


def describe_action(action: dict[str, Any], user_names: dict[int, str] | None = None) -> str:
    label = ACTION_TYPES.get(action.get("type", ""), str(action.get("type")))
    value = action.get("value")
    if action.get("type") == "assign_to" and user_names is not None:
        value = user_names.get(value, f"user #{value}")
    return f"{label}: {value}"
