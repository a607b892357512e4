"""Helpers shared by the settings page tests: the row shape they compare and a scoped row read."""

from typing import Any

from tests.conftest import audit_rows, compact

ROW = (
    "event_type",
    "action",
    "section",
    "property",
    "before",
    "after",
    "actor_type",
    "actor_id",
    "actor_name",
    "subject_type",
    "subject_id",
    "subject_name",
)


def rows(org: Any, **filters: Any) -> list[tuple]:
    return compact(audit_rows(org, **filters), *ROW)


# The sections these pages write; the organisation's own settings rows (its provisioning, a
# fixture's time zone) are another page's.
PAGE_SECTIONS = ("Search", "Shortcut", "Business Rule", "Support Access")


def settings_rows(org: Any) -> list[dict[str, Any]]:
    return audit_rows(org, event_type="settings", section__in=PAGE_SECTIONS)


def one_change(raw_rows: list[dict[str, Any]]) -> bool:
    """All rows share one change_id and the request's IP and user agent."""
    return len({row["change_id"] for row in raw_rows}) == 1 and {
        (row["ip_address"], row["user_agent"]) for row in raw_rows
    } == {("203.0.113.9", "pytest-browser/1.0")}
