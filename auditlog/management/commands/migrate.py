"""`migrate` as the schema's owner: `--database default` runs on the owner's login."""

from typing import Any

from django.core.management.commands import migrate

from auditlog.roles import owner_db, owner_mode


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        options["database"] = owner_db(options["database"])
        with owner_mode(options["database"]):
            super().handle(*args, **options)
