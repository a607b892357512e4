"""`seal_audit_chain [--org ID]`: seal now what the scheduled sealing would seal next."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditlog import digests, integrity
from auditlog.roles import owner_db
from core.tenancy import organization_model


class Command(BaseCommand):
    help = "Seal the audit events that can no longer change into each organisation's hash chains."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--org", type=int, help="only this organisation (id)")
        which.add_argument(
            "--platform", action="store_true", help="only the platform chain (no organisation)"
        )
        parser.add_argument(
            "--margin",
            type=float,
            help="seconds an event must be old before it is sealed "
            "(default: settings.AUDIT_SEAL_MARGIN_SECONDS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        org_id = options["org"]
        if (
            org_id is not None
            and not organization_model().objects.using(owner_db()).filter(pk=org_id).exists()
        ):
            raise CommandError(f"No organisation with id {org_id}.")
        if options["margin"] is not None and options["margin"] < 0:
            raise CommandError("--margin must not be negative.")
        try:
            seals = integrity.seal(
                org_id=org_id,
                margin_seconds=options["margin"],
                platform=True if options["platform"] else None,
            )
        except digests.SigningKeyError as exc:
            raise CommandError(str(exc)) from None
        events = sum(seal.event_count for seal in seals)
        orgs = len({seal.org_id for seal in seals})
        self.stdout.write(
            f"Sealed {events:,} events in {len(seals):,} seals "
            f"for {orgs:,} organisation{'s' if orgs != 1 else ''}."
        )
