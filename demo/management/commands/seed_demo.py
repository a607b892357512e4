"""python manage.py seed_demo: the demo organisation "Acme Support" and a month of its history.

Everything goes through the real services with a simulated clock (see demo/simulation.py), in
one transaction: an interrupted run leaves nothing behind, and a second run changes nothing.
"""

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from accounts.models import Organization, User
from auditlog import daycounts
from demo.simulation import ADMIN, DemoHistory

DEMO_NAME = "Acme Support"
DEMO_PASSWORD = "auditdesk-demo"  # noqa: S105 - the documented demo password


class Command(BaseCommand):
    help = "Create the demo organisation Acme Support with a realistic history (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password", default=DEMO_PASSWORD, help="password for every demo user"
        )
        parser.add_argument(
            "--days", type=int, default=30, help="days of history to simulate (1-90)"
        )
        parser.add_argument("--seed", type=int, default=7, help="random seed of the simulation")

    def handle(self, *args: Any, **options: Any) -> None:
        existing = Organization.objects.filter(name=DEMO_NAME).first()
        if existing is not None:
            self.stdout.write(f"{DEMO_NAME} already exists (id {existing.pk}); nothing to do.")
            return
        if User.all_tenants.filter(email=ADMIN[0]).exists():
            raise CommandError(f"{ADMIN[0]} already belongs to another organisation.")
        days = options["days"]
        if not 1 <= days <= 90:
            raise CommandError("--days must be between 1 and 90.")
        started = time.monotonic()
        # Axes warns about every failed sign-in; the simulated ones are expected.
        logging.getLogger("axes").setLevel(logging.ERROR)
        history = DemoHistory(password=options["password"], days=days, seed=options["seed"])
        with (
            tqdm(
                total=days + 2, desc="seed_demo", unit="day", disable=None, file=self.stderr
            ) as bar,
            transaction.atomic(),
        ):
            org = history.run(progress=bar.update)
        # Its finished days counted now, as the beat job would within minutes (the strip).
        daycounts.roll_up(org_id=org.pk)
        self.stdout.write(
            f"{DEMO_NAME} created (id {org.pk}) with {days} days of history in "
            f"{time.monotonic() - started:.0f} s. Sign in as {ADMIN[0]} with password "
            f"{options['password']!r}."
        )
