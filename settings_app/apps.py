"""App config for settings_app."""

from django.apps import AppConfig


class SettingsAppConfig(AppConfig):
    name = "settings_app"
    default_auto_field = "django.db.models.BigAutoField"
