"""App config: connects the recorder and loads every app's audit declarations."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class AuditlogConfig(AppConfig):
    name = "auditlog"
    verbose_name = "System Audit Log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog import checks, declare, signals  # noqa: F401
        from auditlog.retention import retention_defaults_sync
        from auditlog.roles import grant_after_migrate
        from core import middleware  # noqa: F401 (its request_finished receiver)

        # Every app's audit.py declares its sections (auditlog/declare.py); then the catalog,
        # the filters and the pages can read them.
        autodiscover_modules("audit")
        declare.loaded()
        # After every migrate (and test flush): new tables get the application role's
        # grants, and the database gets the catalog's retention defaults.
        post_migrate.connect(grant_after_migrate, sender=self, dispatch_uid="auditlog-grants")
        post_migrate.connect(
            retention_defaults_sync, sender=self, dispatch_uid="auditlog-retention-defaults"
        )
