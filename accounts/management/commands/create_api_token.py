"""manage.py create_api_token --org ID --name N [--scope S ...]: prints the token once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiToken, Organization
from accounts.services import api_token_create
from core.tenancy import tenant


class Command(BaseCommand):
    help = "Create an organisation API token and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, type=int, help="organisation id")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope",
            action="append",
            choices=ApiToken.SCOPES,
            help="repeatable; a write scope includes its read scope; default: every scope "
            "(grant only what the integration needs)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(pk=options["org"]).first()
        if org is None:
            raise CommandError(f"--org: no organisation with id {options['org']}.")
        name = options["name"].strip()
        if not name:
            raise CommandError("--name must not be empty.")
        with tenant(org):
            _, secret = api_token_create(name=name, scopes=options["scope"])
        self.stdout.write(secret)
