"""`verify_audit_chain [--org ID | --platform] [--incremental] [--digests files|database|none]`.

Recomputes the hash chains (by default everything, from the oldest retained seal) and checks
every seal against its signed digest, read from the files in AUDIT_DIGEST_DIR (outside the
database). Exit 0 when intact; otherwise exit 1 naming the first broken link: the event (or
seal) and what is wrong with it (row changed, row missing, row added, seal missing, seal
changed, forged event, digest invalid). Runs as the schema's owner and saves the result as
each chain's new verified checkpoint.
"""

from datetime import UTC
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditlog import digests, integrity
from auditlog.roles import owner_db
from core.tenancy import organization_model


class Command(BaseCommand):
    help = "Verify the sealed audit hash chains against the signed digests."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--org", type=int, help="only this organisation (id)")
        which.add_argument(
            "--platform", action="store_true", help="only the platform chain (no organisation)"
        )
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="start each chain at its last verified checkpoint instead of the beginning",
        )
        parser.add_argument(
            "--digests",
            choices=["files", "database", "none"],
            default="files",
            help="where the signed digests come from (default: the files in AUDIT_DIGEST_DIR)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = owner_db()
        targets: list[tuple[int | None, str]] = []
        if options["platform"]:
            targets = [(None, "Platform chain")]
        else:
            orgs = organization_model().objects.using(owner).order_by("pk")
            if options["org"] is not None:
                orgs = orgs.filter(pk=options["org"])
                if not orgs.exists():
                    raise CommandError(f"No organisation with id {options['org']}.")
            targets = [(org.pk, f"{org.name} (id {org.pk})") for org in orgs]
            if options["org"] is None:
                targets.append((None, "Platform chain"))
        source = None if options["digests"] == "none" else options["digests"]
        if source is not None and not digests.public_keys():
            raise CommandError(
                "No public key to check digests with: set AUDIT_SIGNING_KEY (or "
                "AUDIT_VERIFY_KEYS), or pass --digests none."
            )
        broken = []
        for org_id, label in targets:
            report = integrity.verify(
                org_id,
                save=True,
                full=not options["incremental"],
                digest_source=source,
                check_tail=True,
            )
            up_to = "nothing sealed yet"
            if report.verified_up_to is not None:
                at, event_id = report.verified_up_to
                up_to = f"verified up to event {event_id} at {at.astimezone(UTC).isoformat()}"
            if report.verified:
                self.stdout.write(
                    f"{label}: intact, {report.sealed_events:,} sealed events, "
                    f"{report.digests_checked:,} signed digests, {up_to}."
                )
            else:
                broken.append(f"{label}: {report.first_broken_link}")
                self.stdout.write(
                    f"{label}: BROKEN at {report.first_broken_link} ({up_to} before it)."
                )
        if broken:
            raise CommandError("First broken link: " + "; ".join(broken), returncode=1)
