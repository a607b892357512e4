"""The project's settings plus an app whose models are not all declared (test_declarations.py)."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.architecture.undeclared"]  # noqa: F405
