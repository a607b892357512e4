"""What settings_app records: searches, shortcuts, business rules and support access
(auditlog/declare.py). Each has a History page, and its earlier values can be restored through
its ordinary update service, so a restore is validated and recorded like any edit."""

from typing import Any

from accounts.models import User
from auditlog.declare import Audited, Nav, register
from settings_app import services
from settings_app.criteria_diff import diff_actions, diff_criteria
from settings_app.models import (
    BusinessRule,
    Macro,
    SavedSearch,
    SavedView,
    Shortcut,
    SupportAccess,
)


def _diff_actions(before: Any, after: Any) -> list:
    """Actions name users by id; the comparison names them as people know them."""
    return diff_actions(before, after, {user.pk: str(user) for user in User.objects.all()})


# Criteria, columns and actions are recorded whole (JSON), so the viewer can show the full
# structure before and after and mark what changed.
register(
    Audited(
        model=SavedSearch,
        section="Search",
        event_type="settings",
        subject_type="search",
        kind="search",
        properties=("name", "criteria", "columns"),
        subject_name=lambda search: search.name,
        edit_url="settings_app:search_edit",
        history="Search",
        restore=lambda search, values: services.search_update(search=search, **values),
        explain={"criteria": diff_criteria},
        nav=Nav(group="Settings", label="Searches", url_name="settings_app:searches", order=10),
    ),
    Audited(
        model=Shortcut,
        section="Shortcut",
        event_type="settings",
        subject_type="shortcut",
        kind="shortcut",
        properties=("name", "text", "category"),
        subject_name=lambda shortcut: shortcut.name,
        edit_url="settings_app:shortcut_edit",
        history="Shortcut",
        restore=lambda shortcut, values: services.shortcut_update(shortcut=shortcut, **values),
        empty_as={"category": ""},
        nav=Nav(group="Settings", label="Shortcuts", url_name="settings_app:shortcuts", order=20),
    ),
    Audited(
        model=BusinessRule,
        section="Business Rule",
        event_type="settings",
        subject_type="business_rule",
        kind="business_rule",
        properties=("name", "enabled", "criteria", "actions", "position"),
        subject_name=lambda rule: rule.name,
        edit_url="settings_app:business_rule_edit",
        history="Business rule",
        restore=lambda rule, values: services.business_rule_update(rule=rule, **values),
        explain={"criteria": diff_criteria, "actions": _diff_actions},
        nav=Nav(
            group="Settings",
            label="Business Rules",
            url_name="settings_app:business_rules",
            order=30,
        ),
    ),
    Audited(
        model=SupportAccess,
        section="Support Access",
        event_type="settings",
        subject_type="support_access",
        kind="support_access",
        properties=("enabled", "access_level", "expires_at"),
        subject_name=str,
        edit_url="settings_app:support_access_edit",
        history="Support access",
        restore=lambda grant, values: services.support_access_update(grant=grant, **values),
        nav=Nav(
            group="Settings",
            label="Support Access",
            url_name="settings_app:support_access",
            order=40,
        ),
    ),
    Audited(
        model=Macro,
        section="Macro",
        event_type="settings",
        subject_type="macro",
        kind="macro",
        properties=("name", "text", "tags"),
        subject_name=lambda macro: macro.name,
        edit_url="settings_app:macro_edit",
        history="Macro",
        restore=lambda macro, values: services.macro_update(macro=macro, **values),
        empty_as={"text": "", "tags": []},
        nav=Nav(group="Settings", label="Macros", url_name="settings_app:macros", order=25),
    ),
    # The Audit Log's saved views (its search language): changing one is a Settings change.
    Audited(
        model=SavedView,
        section="Saved View",
        event_type="settings",
        subject_type="saved_view",
        kind="saved_view",
        properties=("name", "query", "shared"),
        subject_name=lambda view: view.name,
    ),
)
