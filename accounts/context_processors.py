"""Navigation shared by every page."""

from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

# The pages the top bar and the settings sidebar link to, by URL name.
NAV_URL_NAMES = (
    "accounts:organization",
    "accounts:users",
    "accounts:role_groups",
    "accounts:api_tokens",
    "accounts:settings",
    "accounts:logout",
    "billing:billing",
    "settings_app:searches",
    "settings_app:shortcuts",
    "settings_app:business_rules",
    "settings_app:support_access",
    "worksession:workspace",
    "worksession:routing",
    "worksession:pulse",
    "worksession:connectivity",
    "conversations:conversations",
    "conversations:customers",
    "conversations:workflow_settings",
)


@cache
def nav_urls() -> dict[str, str]:
    """`{"accounts_users": "/settings/users/", …}`: reversed once per process, not on every
    page (the sidebar's twenty `{% url %}` tags were ~1 ms of each settings page)."""
    return {name.replace(":", "_"): reverse(name) for name in NAV_URL_NAMES}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "has_org_perm"):
        return {"nav_org": None, "nav_urls": nav_urls()}
    return {
        "nav_org": getattr(user, "org", None),
        "nav_is_admin": user.has_org_perm("audit.view"),
        "nav_urls": nav_urls(),
    }
