"""Every new organisation starts with a plan and seats (Starter, the default seat counts)."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import Organization
from billing.services import billing_provision
from core.tenancy import tenant


@receiver(post_save, sender=Organization, dispatch_uid="billing-provision-new-organization")
def provision_new_organization(
    sender: type[Organization], instance: Organization, created: bool, raw: bool, **kwargs: Any
) -> None:
    if created and not raw:
        with tenant(instance):
            billing_provision()
