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
    ours = "core.middleware.AuditContextMiddleware"
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


def domain_apps() -> list[Any]:
    """The project's own apps (not Django's, not a third party's, not the audit log itself):
    every one of their models must be declared or exempt. Installed packages live under
    site-packages, which may sit inside the project (a .venv), so that is what is excluded."""
    import sysconfig
    from pathlib import Path

    from django.apps import apps

    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    own = []
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if config.name == "auditlog" or config.name.startswith("django."):
            continue
        if any(path.is_relative_to(root) for root in installed):
            continue
        own.append(config)
    return own


def declaration_problems(models: Any) -> list[checks.CheckMessage]:
    """What is wrong with the audit declarations of `models` (concrete models only)."""
    from auditlog import recorder

    messages: list[checks.CheckMessage] = []
    for model in models:
        meta = model._meta
        if meta.abstract or meta.proxy or not meta.managed or meta.auto_created:
            continue
        spec = recorder.tracked(model)
        if spec is None and recorder.exemption(model) is None:
            messages.append(
                checks.Error(
                    f"{meta.label} is neither audited nor exempt: its changes would leave no "
                    "audit rows.",
                    hint=f"Declare it in {meta.app_label}/audit.py: register(Audited(model="
                    f"{model.__name__}, section=…, properties=…)), or register(Exempt("
                    f"{model.__name__}, reason=…)) if its changes are recorded another way "
                    "(auditlog/declare.py).",
                    obj=model,
                    id="auditlog.E011",
                )
            )
        elif spec is not None and recorder.exemption(model) is not None:
            messages.append(
                checks.Error(
                    f"{meta.label} is both audited and exempt.",
                    hint="Keep one of the two declarations.",
                    obj=model,
                    id="auditlog.E011",
                )
            )
        elif spec is not None and not issubclass(model, recorder.AuditedModel):
            messages.append(
                checks.Error(
                    f"{meta.label} is audited but is not an AuditedModel: without the snapshot "
                    "taken when it is loaded, its updates would record nothing.",
                    hint="Derive the model from auditlog.recorder.AuditedModel.",
                    obj=model,
                    id="auditlog.E010",
                )
            )
        elif spec is not None:
            for manager in meta.managers:
                # Read off the class: a tenant manager refuses get_queryset() out of scope.
                queryset_class = getattr(manager, "_queryset_class", None)
                if not (
                    isinstance(queryset_class, type)
                    and issubclass(queryset_class, recorder.AuditedQuerySet)
                ):
                    messages.append(
                        checks.Error(
                            f"{meta.label}.{manager.name} is not an audited manager: its "
                            "bulk update() would change rows unrecorded.",
                            hint="Build the manager from auditlog.recorder.AuditedQuerySet.",
                            obj=model,
                            id="auditlog.E010",
                        )
                    )
    return messages


def spec_problems(spec_sections: Any = None) -> list[checks.CheckMessage]:
    """Where the declared sections fall short of the product's catalog (catalog.SPEC_SECTIONS):
    a section missing, or declared with another event type, subject type or kind, or without
    an action or property the catalog requires. Sections beyond the catalog are allowed."""
    from auditlog import catalog

    messages = []
    for wanted in spec_sections if spec_sections is not None else catalog.SPEC_SECTIONS:
        try:
            declared = catalog.section(wanted.name)
        except KeyError:
            messages.append(
                checks.Error(
                    f"The catalog's section {wanted.name!r} ({wanted.event_type}) is not declared.",
                    hint="Declare it in the owning app's audit.py (auditlog/declare.py).",
                    id="auditlog.E012",
                )
            )
            continue
        problems = []
        for attribute in ("event_type", "subject_type", "kind"):
            if getattr(declared, attribute) != getattr(wanted, attribute):
                problems.append(
                    f"{attribute} {getattr(declared, attribute)!r}, not "
                    f"{getattr(wanted, attribute)!r}"
                )
        for attribute in ("actions", "properties", "redacted"):
            missing = [
                v for v in getattr(wanted, attribute) if v not in getattr(declared, attribute)
            ]
            if missing:
                problems.append(f"no {attribute} {missing}")
        if problems:
            messages.append(
                checks.Error(
                    f"Section {wanted.name!r} is declared with " + "; ".join(problems) + ".",
                    hint="The product's catalog (SPEC §2, §8.3) fixes these; see catalog.SPEC_SECTIONS.",
                    id="auditlog.E012",
                )
            )
    return messages


@checks.register(checks.Tags.models)
def audit_declarations(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    own = domain_apps()
    if app_configs:
        labels = {config.label for config in app_configs}
        own = [config for config in own if config.label in labels]
    models = [model for config in own for model in config.get_models(include_auto_created=False)]
    return declaration_problems(models) + spec_problems()
