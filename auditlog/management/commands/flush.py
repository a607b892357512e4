"""`flush` as the schema's owner, with the purge flag, so it may empty the append-only tables.

Tests (TransactionTestCase) flush between tests; nothing else should ever flush a database
that holds a real audit log.
"""

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction

from auditlog.roles import owner_db, owner_mode


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        using = options["database"] = owner_db(options["database"])
        with owner_mode(using), transaction.atomic(using=using):
            with connections[using].cursor() as cursor:
                # Transaction-local: the append-only triggers let the owner's TRUNCATE through.
                cursor.execute("SELECT set_config('auditlog.purge', 'on', true)")
            super().handle(**options)
