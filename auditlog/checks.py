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


# The apps whose models make up the audited product: each of their models is watched by the
# recorder (track(), in the app's audit.py) or exempt with a reason (recorder.exempt()).
AUDITED_APPS = ("accounts", "billing", "settings_app", "worksession", "conversations")


def declaration_problems(models: Any) -> list[checks.CheckMessage]:
    """What is wrong with the audit declarations of `models` (concrete models only)."""
    from auditlog import recorder

    messages: list[checks.CheckMessage] = []
    for model in models:
        meta = model._meta
        if meta.abstract or meta.proxy or not meta.managed:
            continue
        spec = recorder.tracked(model)
        if spec is None and recorder.exemption(model) is None:
            messages.append(
                checks.Error(
                    f"{meta.label} is neither audited nor exempt: its changes would leave no "
                    "audit rows.",
                    hint=f"Call track({model.__name__}, section=…, fields=…) in "
                    f"{meta.app_label}/audit.py, or exempt({model.__name__}, reason=…) if its "
                    "changes are recorded another way.",
                    obj=model,
                    id="auditlog.E011",
                )
            )
        elif spec is not None and not issubclass(model, recorder.AuditedModel):
            messages.append(
                checks.Error(
                    f"{meta.label} is tracked but is not an AuditedModel: without the snapshot "
                    "taken when it is loaded, its updates would record nothing.",
                    hint="Derive the model from auditlog.recorder.AuditedModel.",
                    obj=model,
                    id="auditlog.E010",
                )
            )
    return messages


@checks.register(checks.Tags.models)
def audit_declarations(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.apps import apps

    configs = app_configs or [apps.get_app_config(label) for label in AUDITED_APPS]
    models = [
        model for config in configs if config.label in AUDITED_APPS for model in config.get_models()
    ]
    return declaration_problems(models)
