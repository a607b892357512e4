"""Structural differences between two criteria or two action lists: condition added, removed, changed.

A line diff of pretty-printed JSON says "these lines differ"; an administrator asks "which
condition changed, and how". Conditions (and actions) are paired first by equality, then
the remaining ones by field (by action type), in order; a pair that differs is "changed",
the rest are "added" or "removed".
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from settings_app.criteria import describe_action, describe_condition

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # ADDED, REMOVED, CHANGED or UNCHANGED
    what: str  # "Condition", "Match", "Action", "Column", …
    text: str  # the item as it reads now (the old one when removed)
    before: str = ""  # for CHANGED: the item as it read before


def _pair(
    old: list[Any], new: list[Any], key: Callable[[Any], Any]
) -> list[tuple[Any | None, Any | None]]:
    """(old, new) pairs in the new list's order, then the removed old items."""
    unmatched_old = list(range(len(old)))
    pairs: dict[int, int] = {}  # new index -> old index
    for j, item in enumerate(new):
        for i in unmatched_old:
            if old[i] == item:
                pairs[j] = i
                unmatched_old.remove(i)
                break
    for j, item in enumerate(new):
        if j in pairs:
            continue
        for i in unmatched_old:
            if key(old[i]) == key(item):
                pairs[j] = i
                unmatched_old.remove(i)
                break
    result: list[tuple[Any | None, Any | None]] = [
        (old[pairs[j]] if j in pairs else None, item) for j, item in enumerate(new)
    ]
    result.extend((old[i], None) for i in unmatched_old)
    return result


def _items(
    old: list[Any],
    new: list[Any],
    *,
    what: str,
    key: Callable[[Any], Any],
    describe: Callable[[Any], str],
) -> list[Difference]:
    differences = []
    for before, after in _pair(old, new, key):
        if before is None:
            differences.append(Difference(ADDED, what, describe(after)))
        elif after is None:
            differences.append(Difference(REMOVED, what, describe(before)))
        elif before == after:
            differences.append(Difference(UNCHANGED, what, describe(after)))
        else:
            differences.append(Difference(CHANGED, what, describe(after), describe(before)))
    return differences


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def diff_criteria(old: Any, new: Any) -> list[Difference]:
    """How criteria `old` became `new`: the match mode, then each condition."""
    old, new = _as_dict(old), _as_dict(new)
    differences = []
    old_match, new_match = old.get("match", "all"), new.get("match", "all")
    match_text = {"all": "All conditions must match", "any": "Any condition may match"}
    if old_match != new_match:
        differences.append(
            Difference(
                CHANGED,
                "Match",
                match_text.get(new_match, str(new_match)),
                match_text.get(old_match, str(old_match)),
            )
        )
    differences += _items(
        _as_list(old.get("conditions")),
        _as_list(new.get("conditions")),
        what="Condition",
        key=lambda condition: _as_dict(condition).get("field"),
        describe=lambda condition: describe_condition(_as_dict(condition)),
    )
    return differences


def diff_actions(old: Any, new: Any, user_names: dict[int, str] | None = None) -> list[Difference]:
    return _items(
        _as_list(old),
        _as_list(new),
        what="Action",
        key=lambda action: _as_dict(action).get("type"),
        describe=lambda action: describe_action(_as_dict(action), user_names),
    )


def diff_list(old: Any, new: Any, *, what: str) -> list[Difference]:
    """Plain lists (a search's columns, tags): members added and removed, order aside."""
    old_items, new_items = _as_list(old), _as_list(new)
    differences = [
        Difference(UNCHANGED if item in old_items else ADDED, what, str(item)) for item in new_items
    ]
    differences += [
        Difference(REMOVED, what, str(item)) for item in old_items if item not in new_items
    ]
    return differences
