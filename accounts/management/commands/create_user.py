"""python manage.py create_user --org ID --email E --password P --role Agent|Administrator: prints the user's id."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from accounts.models import Organization, RoleGroup, User
from accounts.permissions import ADMINISTRATOR, AGENT
from accounts.services import user_create
from core.tenancy import tenant


class Command(BaseCommand):
    help = "Create a user in an organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, type=int, help="organisation id")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, choices=[AGENT, ADMINISTRATOR])
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(pk=options["org"]).first()
        if org is None:
            raise CommandError(f"--org: no organisation with id {options['org']}.")
        try:
            validate_email(options["email"])
        except ValidationError as error:
            raise CommandError(
                f"--email: {options['email']!r} is not a valid email address."
            ) from error
        if User.all_tenants.filter(email=options["email"].lower()).exists():
            raise CommandError(f"--email: a user with {options['email']!r} already exists.")
        if len(options["password"]) < 8:
            raise CommandError("--password must be at least 8 characters.")
        with tenant(org):
            role_group = RoleGroup.objects.get(name=options["role"])
            user = user_create(
                email=options["email"],
                password=options["password"],
                name=options["name"] or options["email"].split("@")[0].replace(".", " ").title(),
                role_group=role_group,
            )
        self.stdout.write(str(user.pk))
