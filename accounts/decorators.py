"""Page access by organisation permission (or the Administrator role): anonymous to login, the
rest to a friendly 403."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import ADMINISTRATOR, is_administrator


def org_permission_required(code: str) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(user, "org_id", None) is None or not user.has_org_perm(code):
                return render(request, "403.html", {"needed": code}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def administrator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages for Administrators only: active users whose role group holds every permission."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if (
            getattr(user, "org_id", None) is None
            or not user.is_active
            or user.role_group is None
            or not is_administrator(user.role_group.permissions)
        ):
            return render(request, "403.html", {"needed": ADMINISTRATOR}, status=403)
        return view(request, *args, **kwargs)

    return wrapped
