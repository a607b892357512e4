"""Organisations (the tenants), their users, role groups and API tokens."""

import zoneinfo

from django.contrib.auth import hashers
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from auditlog import recorder
from auditlog.recorder import (
    AuditedModel,
    AuditedQuerySet,
    AuditedTenantModel,
    AuditedTenantQuerySet,
)
from core import context
from core.tenancy import TenantManager

# What an organisation may choose for its connectivity grace (Settings > Organisation): at
# least two of the workspace's 15-second heartbeats, at most an hour.
HEARTBEAT_GRACE_SECONDS_MIN = 30
HEARTBEAT_GRACE_SECONDS_MAX = 3600


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/London).")


class Organization(AuditedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    audit_retention_days = models.PositiveIntegerField(
        default=365, help_text="Upper bound on how long any audit event is kept."
    )
    heartbeat_grace_seconds = models.PositiveIntegerField(default=90)
    created_at = models.DateTimeField(default=timezone.now)

    # Audited (section "Organisation"): a bulk update of its settings is recorded too.
    objects = models.Manager.from_queryset(AuditedQuerySet)()

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class RoleGroup(AuditedTenantModel):
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="rolegroup_unique_name_per_org"),
            # What other tables' (org_id, role_group_id) foreign keys point at.
            models.UniqueConstraint(fields=["org", "id"], name="rolegroup_org_id"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserQuerySet(AuditedTenantQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class TenantUserManager(TenantManager.from_queryset(UserQuerySet), UserManager):
    """`User.objects`: the current organisation's users, bulk writes recorded."""


class User(AuditedModel, AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # Null only for platform operators (Django admin superusers), who belong to no tenant.
    org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    role_group = models.ForeignKey(
        RoleGroup,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="users",
        # Enforced with the organisation: FOREIGN KEY (org_id, role_group_id), so a user can
        # never hold another organisation's role group (migration 0002_tenant_keys).
        db_constraint=False,
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Platform operator: may open /django-admin/."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    # The zone this person reads times in: "" for the organisation's, else an IANA name
    # ("UTC", or their own). A preference, not a setting of the organisation: not audited.
    display_time_zone = models.CharField(max_length=64, blank=True, default="")

    all_tenants = UserManager()
    objects = TenantUserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["name", "email"]
        constraints = [models.UniqueConstraint(fields=["org", "id"], name="user_org_id")]

    def __str__(self) -> str:
        return self.name or self.email

    def save(self, *args: object, **kwargs: object) -> None:
        if self.org_id is None and not self.is_superuser:
            self.org_id = context.current().org_id
        super().save(*args, **kwargs)

    def check_password(self, raw_password: str) -> bool:
        """As Django's, except that re-hashing the password at sign-in (a newer hasher or
        more iterations) is recorded as what it is: no change of password, so no row."""

        def rehash(raw: str) -> None:
            self.set_password(raw)
            self._password = None  # not a password change (no password_changed())
            recorder.rebase(self)
            self.save(update_fields=["password"])

        return hashers.check_password(raw_password, self.password, rehash)

    async def acheck_password(self, raw_password: str) -> bool:
        async def rehash(raw: str) -> None:
            self.set_password(raw)
            self._password = None
            recorder.rebase(self)
            await self.asave(update_fields=["password"])

        return await hashers.acheck_password(raw_password, self.password, rehash)

    def has_org_perm(self, code: str) -> bool:
        if not self.is_active or self.role_group_id is None:
            return False
        return code in self.role_group.permissions

    @property
    def is_org_admin(self) -> bool:
        return self.has_org_perm("audit.view")


class ApiToken(AuditedTenantModel):
    """An organisation's API credential. Only a SHA-256 of the secret is kept."""

    # SPEC §8.2; a write scope also reads (accounts.authentication.ApiClient.has_scope).
    SCOPES = (
        "customers:read",
        "customers:write",
        "conversations:read",
        "conversations:write",
        "audit:read",
        "audit:export",
        "audit:streams",
    )

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Enforced with the organisation: FOREIGN KEY (org_id, created_by_id) (0002_tenant_keys).
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name
