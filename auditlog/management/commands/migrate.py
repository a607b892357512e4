"""`migrate` in owner mode: schema changes need the tables' owner, not the application role."""

from typing import Any

from django.core.management.commands import migrate

from auditlog.roles import owner_mode


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with owner_mode(options["database"]):
            super().handle(*args, **options)
