"""Tenant scoping by construction: tenant-owned querysets come pre-filtered to the current organisation."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models

from core import context


def organization_model() -> type[models.Model]:
    """The tenant model (settings.ORGANIZATION_MODEL), as get_user_model() is the user model:
    code below the app that defines it reads it through here."""
    return apps.get_model(settings.ORGANIZATION_MODEL, require_ready=False)


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried with no organisation in scope."""


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """`Model.objects`: every query is limited to the organisation of the current context.

    With no organisation in scope it refuses rather than return every tenant's rows.
    Django internals and the platform admin use the unscoped `all_tenants` manager.
    """

    def get_queryset(self) -> TenantQuerySet:
        org_id = context.current().org_id
        if org_id is None:
            raise TenantScopeError(
                f"{self.model.__name__}.objects used with no organisation in scope; "
                "use core.tenancy.tenant(org) or the request's context"
            )
        return super().get_queryset().filter(org_id=org_id)


class TenantModel(models.Model):
    """A row that belongs to exactly one organisation."""

    org = models.ForeignKey(settings.ORGANIZATION_MODEL, on_delete=models.CASCADE, related_name="+")

    # Declared first, so it is Django's default manager (admin, internals); product code
    # uses the scoped `objects`.
    all_tenants = models.Manager.from_queryset(TenantQuerySet)()
    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.org_id is None:
            self.org_id = context.current().org_id
        super().save(*args, **kwargs)


@contextmanager
def tenant(org: Any, **changes: Any) -> Iterator[context.AuditContext]:
    """Work inside one organisation (commands, tasks, tests): scopes queries and audit rows."""
    org_id = org if isinstance(org, int) else org.pk
    with context.use(org_id=org_id, **changes) as ctx:
        yield ctx
