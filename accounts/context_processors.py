"""Navigation shared by every page."""

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "has_org_perm"):
        return {"nav_org": None}
    return {"nav_org": getattr(user, "org", None), "nav_is_admin": user.has_org_perm("audit.view")}
