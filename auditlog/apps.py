"""App config: connects the recorder and loads every app's audit declarations."""

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class AuditlogConfig(AppConfig):
    name = "auditlog"
    verbose_name = "System Audit Log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog import checks, signals  # noqa: F401

        autodiscover_modules("audit")
