"""Structural differences between two criteria or two action lists: condition added, removed,
changed (auditlog.differences pairs the items)."""

from typing import Any

from auditlog.differences import CHANGED, Difference, as_dict, as_list, items
from settings_app.criteria import describe_action, describe_condition


def diff_criteria(old: Any, new: Any) -> list[Difference]:
    """How criteria `old` became `new`: the match mode, then each condition."""
    old, new = as_dict(old), as_dict(new)
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
    differences += items(
        as_list(old.get("conditions")),
        as_list(new.get("conditions")),
        what="Condition",
        key=lambda condition: as_dict(condition).get("field"),
        describe=lambda condition: describe_condition(as_dict(condition)),
    )
    return differences


def diff_actions(old: Any, new: Any, user_names: dict[int, str] | None = None) -> list[Difference]:
    return items(
        as_list(old),
        as_list(new),
        what="Action",
        key=lambda action: as_dict(action).get("type"),
        describe=lambda action: describe_action(as_dict(action), user_names),
    )
