"""System checks: misconfiguration is reported at start-up, not discovered in production."""

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.database)
def audit_backend_configured(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "auditlog.db":
        return [
            checks.Error(
                f"DATABASES['default']['ENGINE'] is {engine!r}; audit rows are only written "
                "in the committing transaction by 'auditlog.db'.",
                id="auditlog.E001",
            )
        ]
    return []


@checks.register()
def middleware_order(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    ours = "auditlog.middleware.AuditContextMiddleware"
    if (
        ours not in middleware
        or auth not in middleware
        or middleware.index(ours) < middleware.index(auth)
    ):
        return [
            checks.Error(
                f"{ours} must come after {auth}, or the actor is read before authentication.",
                id="auditlog.E002",
            )
        ]
    return []


@checks.register(checks.Tags.database)
def app_role_usable(
    app_configs: Any, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The application's login must be restricted, or audit rows are not protected."""
    from django.db import DatabaseError

    from auditlog.roles import role_problems

    messages: list[checks.CheckMessage] = []
    for alias in databases or []:
        if alias != "default":
            continue
        try:
            problems = role_problems(alias)
        except DatabaseError as exc:
            problems = [f"its roles could not be checked ({str(exc).strip()}): run migrate"]
        for problem in problems:
            messages.append(
                checks.Warning(
                    f"Database {alias!r}: {problem}.",
                    hint="See docs/trust.md (two database logins).",
                    id="auditlog.W003",
                )
            )
    return messages
