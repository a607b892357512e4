"""`verify_audit_chain [--org ID]`: recompute the hash chains; exit 0 when intact.

Otherwise exit 1 naming the first broken link: the event (or seal) and what is wrong with it
(row changed, row missing, row added, seal missing, seal changed).
"""

from datetime import UTC
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization
from auditlog import integrity


class Command(BaseCommand):
    help = "Verify each organisation's sealed audit hash chains from the oldest retained seal."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, help="only this organisation (id)")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organization.objects.order_by("pk")
        if options["org"] is not None:
            orgs = orgs.filter(pk=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organisation with id {options['org']}.")
        broken = []
        for org in orgs:
            report = integrity.verify(org.pk)
            up_to = "nothing sealed yet"
            if report.verified_up_to is not None:
                at, event_id = report.verified_up_to
                up_to = f"verified up to event {event_id} at {at.astimezone(UTC).isoformat()}"
            if report.verified:
                self.stdout.write(
                    f"{org.name} (id {org.pk}): intact, {report.sealed_events:,} sealed events, "
                    f"{up_to}."
                )
            else:
                broken.append(f"{org.name} (id {org.pk}): {report.first_broken_link}")
                self.stdout.write(
                    f"{org.name} (id {org.pk}): BROKEN at {report.first_broken_link} "
                    f"({up_to} before it)."
                )
        if broken:
            raise CommandError("First broken link: " + "; ".join(broken), returncode=1)
