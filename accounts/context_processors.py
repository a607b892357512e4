"""Navigation shared by every page: the top bar and the settings sidebar."""

from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from auditlog import declare
from auditlog.declare import Nav

# The top bar's links, by URL name.
TOP_URL_NAMES = (
    "accounts:settings",
    "accounts:logout",
    "worksession:workspace",
    "conversations:conversations",
    "conversations:customers",
)
# The sidebar's headings, in order; its pages are those the audit declarations name (`Nav`)
# plus these pages, which are not about one audited model.
SIDEBAR_GROUPS = ("Organisation", "Settings", "Security", "Work")
SIDEBAR_PAGES = (
    Nav(group="Security", label="Audit Log", url_name="audit_log", order=10),
    Nav(group="Work", label="Routing & capacity", url_name="worksession:routing", order=10),
    Nav(group="Work", label="Team Pulse", url_name="work_pulse", order=30),
    Nav(group="Work", label="Connectivity lapses", url_name="work_connectivity", order=40),
)


@cache
def nav_urls() -> dict[str, str]:
    """`{"accounts_settings": "/settings/", …}`: reversed once per process, not on every page."""
    return {name.replace(":", "_"): reverse(name) for name in TOP_URL_NAMES}


@cache
def sidebar() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """((heading, ((label, url), …)), …), reversed once per process."""
    pages = sorted(
        (*declare.navigation(), *SIDEBAR_PAGES),
        key=lambda nav: (SIDEBAR_GROUPS.index(nav.group), nav.order, nav.label),
    )
    return tuple(
        (group, tuple((nav.label, reverse(nav.url_name)) for nav in pages if nav.group == group))
        for group in SIDEBAR_GROUPS
        if any(nav.group == group for nav in pages)
    )


def _sidebar_for(path: str) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    return [
        (group, [(label, url, path.startswith(url)) for label, url in pages])
        for group, pages in sidebar()
    ]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "has_org_perm"):
        return {"nav_org": None, "nav_urls": nav_urls()}
    return {
        "nav_org": getattr(user, "org", None),
        "nav_is_admin": user.has_org_perm("audit.view"),
        "nav_urls": nav_urls(),
        # Called by the template only on the settings pages that show the sidebar.
        "nav_sidebar": lambda: _sidebar_for(request.path),
    }
