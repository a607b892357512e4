"""Structured before/after comparisons the History page lists: what was added, removed, changed.

A line diff of pretty-printed JSON says "these lines differ"; an administrator asks "which
item changed, and how". Items are paired first by equality, then the remaining ones by a
key (a condition's field, an action's type), in order; a pair that differs is "changed",
the rest are "added" or "removed". Apps build their own comparisons from `items()` and
declare them (`Audited.explain`); plain lists get `diff_list()`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # ADDED, REMOVED, CHANGED or UNCHANGED
    what: str  # "Condition", "Match", "Action", "Column", …
    text: str  # the item as it reads now (the old one when removed)
    before: str = ""  # for CHANGED: the item as it read before


def pair(
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


def items(
    old: list[Any],
    new: list[Any],
    *,
    what: str,
    key: Callable[[Any], Any],
    describe: Callable[[Any], str],
) -> list[Difference]:
    differences = []
    for before, after in pair(old, new, key):
        if before is None:
            differences.append(Difference(ADDED, what, describe(after)))
        elif after is None:
            differences.append(Difference(REMOVED, what, describe(before)))
        elif before == after:
            differences.append(Difference(UNCHANGED, what, describe(after)))
        else:
            differences.append(Difference(CHANGED, what, describe(after), describe(before)))
    return differences


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def diff_list(old: Any, new: Any, *, what: str) -> list[Difference]:
    """Plain lists (a search's columns, tags): members added and removed, order aside."""
    old_items, new_items = as_list(old), as_list(new)
    differences = [
        Difference(UNCHANGED if item in old_items else ADDED, what, str(item)) for item in new_items
    ]
    differences += [
        Difference(REMOVED, what, str(item)) for item in old_items if item not in new_items
    ]
    return differences
