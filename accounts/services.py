"""Every write to organisations, users, role groups and API tokens.

Changes to people's access are checked here, for pages and APIs alike, against whoever the
audit context says is acting (`accounts.permissions.Acting`): every caller already sets that
context, so no caller can forget to pass the actor and act unchecked.
"""

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import (
    HEARTBEAT_GRACE_SECONDS_MAX,
    HEARTBEAT_GRACE_SECONDS_MIN,
    ApiToken,
    Organization,
    RoleGroup,
    User,
    validate_time_zone,
)
from accounts.permissions import (
    ADMINISTRATOR,
    AGENT,
    DEFAULT_ROLE_GROUPS,
    PERMISSIONS,
    SCOPE_PERMISSIONS,
    Acting,
    ChangeRefused,
    is_administrator,
    keep_an_administrator,
)
from auditlog import catalog, retention
from auditlog.models import AuditRetention
from core.tenancy import tenant

TOKEN_PREFIX = "adk_"  # noqa: S105 - a public marker, not a secret


def organization_create(
    *,
    name: str,
    admin_email: str,
    admin_password: str,
    admin_name: str = "",
    time_zone: str = "UTC",
) -> Organization:
    """A new tenant with its two standard role groups and its first Administrator."""
    with transaction.atomic():
        slug = _unique_slug(name)
        org = Organization(name=name, slug=slug, time_zone=time_zone)
        org.full_clean()
        org.save()
        with tenant(org):
            groups = {
                group_name: role_group_create(name=group_name, permissions=permissions)
                for group_name, permissions in DEFAULT_ROLE_GROUPS.items()
            }
            user_create(
                email=admin_email,
                password=admin_password,
                name=admin_name or "Administrator",
                role_group=groups[ADMINISTRATOR],
            )
    return org


def _retention_problem(days: int, limit: int | None = None) -> str | None:
    low, high = catalog.RETENTION_DAYS_MIN, catalog.RETENTION_DAYS_MAX
    if isinstance(days, bool) or not isinstance(days, int) or not low <= days <= high:
        return f"Retention is a whole number of days from {low} to {high}."
    if limit is not None and days > limit:
        return f"Longer than the organisation's limit for every type ({limit} days)."
    return None


def organization_settings_update(
    *,
    org: Organization,
    name: str | None = None,
    time_zone: str | None = None,
    heartbeat_grace_seconds: int | None = None,
    retention_days: int | None = None,
    retention_by_type: Mapping[str, int] | None = None,
) -> Organization:
    """Settings > Organisation, by an Administrator. Name, time zone and connectivity grace are
    one `Organisation` change; each changed retention (the limit for every type, or one
    type's) goes through `retention_set`, whose row is the policy the purge acts on once
    sealed. None leaves a value alone; refusals are ValidationErrors naming the field
    (`retention_<event type>` for one type's retention)."""
    Acting.now().refuse_unless_administrator("the organisation's settings")
    problems: dict[str, str] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > Organization._meta.get_field("name").max_length:
            problems["name"] = "Give the organisation a name of at most 200 characters."
    if time_zone is not None:
        try:
            validate_time_zone(time_zone)
        except ValidationError as problem:
            problems["time_zone"] = problem.messages[0]
    if heartbeat_grace_seconds is not None and (
        isinstance(heartbeat_grace_seconds, bool)
        or not isinstance(heartbeat_grace_seconds, int)
        or not HEARTBEAT_GRACE_SECONDS_MIN <= heartbeat_grace_seconds <= HEARTBEAT_GRACE_SECONDS_MAX
    ):
        problems["heartbeat_grace_seconds"] = (
            f"The grace is {HEARTBEAT_GRACE_SECONDS_MIN} to {HEARTBEAT_GRACE_SECONDS_MAX} seconds."
        )
    with transaction.atomic():
        # Locked: two Administrators saving at once apply one after the other.
        org = Organization.objects.select_for_update().get(pk=org.pk)
        limit = org.audit_retention_days if retention_days is None else retention_days
        if retention_days is not None and (problem := _retention_problem(retention_days)):
            problems["retention_days"] = problem
        chosen = dict(
            AuditRetention.all_tenants.filter(org_id=org.pk).values_list("event_type", "days")
        )
        wanted: dict[str, int] = {}
        for event_type, days in (retention_by_type or {}).items():
            if event_type not in catalog.EVENT_TYPES:
                problems["retention_days"] = f"Unknown event type {event_type!r}."
            elif chosen.get(event_type) != days:
                if problem := _retention_problem(days, limit):
                    problems[f"retention_{event_type}"] = problem
                wanted[event_type] = days
        if problems:
            raise ValidationError(problems)
        for attribute, value in (
            ("name", name),
            ("time_zone", time_zone),
            ("heartbeat_grace_seconds", heartbeat_grace_seconds),
        ):
            if value is not None:
                setattr(org, attribute, value)
        org.save()  # rows for what changed only
        if retention_days is not None and retention_days != org.audit_retention_days:
            retention.retention_set(org, retention_days)
        for event_type, days in wanted.items():
            retention.retention_set(org, days, event_type=event_type)
    return org


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def role_group_for(name: str) -> RoleGroup:
    return RoleGroup.objects.get(name=name)


def role_group_create(*, name: str, permissions: list[str]) -> RoleGroup:
    Acting.now().refuse_granting(permissions, field="permissions")
    group = RoleGroup(name=name, permissions=sorted(set(permissions)))
    group.save()
    return group


def role_group_update(
    *, group: RoleGroup, name: str | None = None, permissions: list[str] | None = None
) -> RoleGroup:
    acting = Acting.now()
    acting.refuse_own_group(group)
    held = set(group.permissions)
    if permissions is not None:
        acting.refuse_granting(set(permissions) - held, field="permissions")
        acting.refuse_removing(held - set(permissions), field="permissions")
    with transaction.atomic():
        if permissions is not None and is_administrator(held) and not is_administrator(permissions):
            keep_an_administrator(without_group=group)
        if name is not None:
            group.name = name
        if permissions is not None:
            group.permissions = sorted(set(permissions))
        group.save()
    return group


def role_group_delete(*, group: RoleGroup) -> None:
    Acting.now().refuse_own_group(group)
    if group.name in (ADMINISTRATOR, AGENT):
        raise ChangeRefused(f"The {group.name} role group is built in and cannot be deleted.")
    # A group that still has users is never deleted, so no deletion removes an administrator.
    if group.users.exists():
        raise ChangeRefused(f"{group.name} still has users; move them to another role group first.")
    group.delete()


def user_create(
    *,
    email: str,
    password: str | None,
    name: str = "",
    phone: str = "",
    role_group: RoleGroup | None = None,
    is_active: bool = True,
) -> User:
    role_group = role_group or role_group_for(AGENT)
    Acting.now().refuse_granting(role_group.permissions, field="role_group")
    user = User(
        email=User.all_tenants.normalize_email(email).lower(),
        name=name,
        phone=phone,
        role_group=role_group,
        is_active=is_active,
    )
    user.set_password(password)
    user.save()
    return user


def user_update(
    *,
    user: User,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    role_group: RoleGroup | None = None,
    is_active: bool | None = None,
) -> User:
    acting = Acting.now()
    acting.refuse_account_beyond_own(user)
    new_group = role_group if role_group is not None else user.role_group
    if new_group != user.role_group:
        acting.refuse_own_role(user)
        acting.refuse_granting(new_group.permissions, field="role_group")
    active = is_active if is_active is not None else user.is_active
    if not active and acting.is_self(user):
        raise ChangeRefused("You cannot deactivate your own account.", field="is_active")
    with transaction.atomic():
        if _is_active_administrator(user) and not (active and _grants_all(new_group)):
            keep_an_administrator(without_user=user)
        for attribute, value in (
            ("name", name),
            ("phone", phone),
            ("role_group", role_group),
            ("is_active", is_active),
        ):
            if value is not None:
                setattr(user, attribute, value)
        if email is not None:
            user.email = User.all_tenants.normalize_email(email).lower()
        user.save()
    return user


def user_set_password(*, user: User, password: str) -> User:
    Acting.now().refuse_account_beyond_own(user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def user_delete(*, user: User) -> None:
    acting = Acting.now()
    acting.refuse_account_beyond_own(user)
    if acting.is_self(user):
        raise ChangeRefused("You cannot delete your own account.")
    with transaction.atomic():
        if _is_active_administrator(user):
            keep_an_administrator(without_user=user)
        user.delete()


def _grants_all(group: RoleGroup | None) -> bool:
    return group is not None and is_administrator(group.permissions)


def _is_active_administrator(user: User) -> bool:
    return user.is_active and _grants_all(user.role_group)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *, name: str, scopes: list[str] | None = None, created_by: User | None = None
) -> tuple[ApiToken, str]:
    """Returns the token and its secret; the secret is shown once and never stored."""
    scopes = list(scopes if scopes is not None else ApiToken.SCOPES)
    # A scope the product does not map to permissions is an Administrator's to give.
    needed = set().union(
        *(SCOPE_PERMISSIONS.get(scope, frozenset(PERMISSIONS)) for scope in scopes)
    )
    Acting.now().refuse_granting(needed, field="scopes")
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=name,
        prefix=prefix,
        secret_hash=_hash(raw),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    token.save()
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The live token a bearer string names, or None. Constant-time on the secret."""
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        return None
    prefix = raw[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.all_tenants.select_related("org").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(raw)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.all_tenants.filter(pk=token.pk).update(last_used_at=now)
    return token
