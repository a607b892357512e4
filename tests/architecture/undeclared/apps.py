from django.apps import AppConfig


class UndeclaredConfig(AppConfig):
    name = "tests.architecture.undeclared"
    label = "undeclared"
    default_auto_field = "django.db.models.BigAutoField"
