"""python manage.py seed_demo: the demo organisation "Acme Support", built through the real services."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from accounts.models import Organization, RoleGroup
from accounts.permissions import AGENT
from accounts.services import organization_create, user_create
from accounts.tenancy import tenant
from auditlog.context import Actor

DEMO_NAME = "Acme Support"
DEMO_ADMIN = ("admin@acme.test", "Ada Admin")
DEMO_PASSWORD = "auditdesk-demo"  # noqa: S105 - the documented demo password
DEMO_AGENTS = [("alex@acme.test", "Alex Agent"), ("sam@acme.test", "Sam Agent")]


class Command(BaseCommand):
    help = "Create the demo organisation Acme Support (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password", default=DEMO_PASSWORD, help="password for every demo user"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        existing = Organization.objects.filter(name=DEMO_NAME).first()
        if existing is not None:
            self.stdout.write(f"{DEMO_NAME} already exists (id {existing.pk}); nothing to do.")
            return
        steps = tqdm(total=1 + len(DEMO_AGENTS), desc="seed_demo", unit="step", disable=None)
        org = organization_create(
            name=DEMO_NAME,
            admin_email=DEMO_ADMIN[0],
            admin_name=DEMO_ADMIN[1],
            admin_password=options["password"],
            time_zone="Europe/London",
        )
        steps.update()
        with tenant(org):
            admin = org.users.get(email=DEMO_ADMIN[0])
            with tenant(org, actor=Actor.for_user(admin)):
                agent_group = RoleGroup.objects.get(name=AGENT)
                for email, name in DEMO_AGENTS:
                    user_create(
                        email=email, name=name, password=options["password"], role_group=agent_group
                    )
                    steps.update()
        steps.close()
        self.stdout.write(
            f"{DEMO_NAME} created (id {org.pk}). Sign in as {DEMO_ADMIN[0]} with password {options['password']!r}."
        )
