"""App config for worksession."""

from django.apps import AppConfig


class WorksessionConfig(AppConfig):
    name = "worksession"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from worksession import signals  # noqa: F401
