"""python manage.py create_org --name N --admin-email E --admin-password P: prints the new organisation's id."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from accounts.models import User
from accounts.services import organization_create


class Command(BaseCommand):
    help = "Create an organisation with its Administrator and Agent role groups and its first Administrator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--time-zone", default="UTC")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("--name must not be empty.")
        try:
            validate_email(options["admin_email"])
        except ValidationError as error:
            raise CommandError(
                f"--admin-email: {options['admin_email']!r} is not a valid email address."
            ) from error
        if User.all_tenants.filter(email=options["admin_email"].lower()).exists():
            raise CommandError(
                f"--admin-email: a user with {options['admin_email']!r} already exists."
            )
        if len(options["admin_password"]) < 8:
            raise CommandError("--admin-password must be at least 8 characters.")
        try:
            org = organization_create(
                name=name,
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
                admin_name=options["admin_name"],
                time_zone=options["time_zone"],
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(
                    f"--{k.replace('_', '-')}: {' '.join(v)}" for k, v in error.message_dict.items()
                )
            ) from error
        self.stdout.write(str(org.pk))
