"""Role group permissions, the two built-in groups, and who may change people's access (§8.2)."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from accounts.models import Organization, RoleGroup, User
from core import context

PERMISSIONS: dict[str, str] = {
    "audit.view": "View the system audit log",
    "audit.export": "Export the system audit log",
    "users.manage": "Manage users and role groups",
    "tokens.manage": "Manage API tokens",
    "billing.manage": "Manage plan and seats",
    "settings.manage": "Manage searches, shortcuts, business rules and support access",
    "routing.manage": "Assign conversations and set agent capacity",
    "conversations.work": "Work conversations and customers",
}

ADMINISTRATOR = "Administrator"
AGENT = "Agent"

DEFAULT_ROLE_GROUPS: dict[str, list[str]] = {
    ADMINISTRATOR: sorted(PERMISSIONS),
    AGENT: ["conversations.work"],
}

# What an API token's scope lets its holder do, in permissions: minting a token is granting them.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "audit:read": frozenset({"audit.view"}),
    "audit:export": frozenset({"audit.view", "audit.export"}),
    "audit:streams": frozenset({"audit.view", "audit.export"}),
    "customers:read": frozenset({"conversations.work"}),
    "customers:write": frozenset({"conversations.work"}),
    "conversations:read": frozenset({"conversations.work"}),
    "conversations:write": frozenset({"conversations.work"}),
}


class ChangeRefused(PermissionDenied):
    """A change to people's access that the organisation's rules refuse. Pages show it on the
    form (`field` names the input at fault, if any); an API answers 403 with the message."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def is_administrator(permissions: Iterable[str]) -> bool:
    return set(PERMISSIONS) <= set(permissions)


def _listed(codes: Iterable[str]) -> str:
    return ", ".join(sorted(codes))


@dataclass(frozen=True, slots=True)
class Acting:
    """Who is changing users, role groups or tokens, and the permissions they hold.

    `permissions` is None for the system itself (commands, migrations, the demo's setup),
    which is bound by no one's permissions; everyone else, an API token included, can give
    out or take away only what they hold. `user` is the person acting, if any.
    """

    user: User | None
    permissions: frozenset[str] | None

    @classmethod
    def now(cls) -> "Acting":
        """The performer of the current audit context, with permissions read afresh."""
        actor = context.current().actor
        if actor.type == context.SYSTEM.type:
            return cls(user=None, permissions=None)
        if actor.type != "user":
            return cls(user=None, permissions=frozenset())
        user = User.objects.select_related("role_group").filter(pk=actor.id).first()
        if user is None or not user.is_active or user.role_group is None:
            return cls(user=user, permissions=frozenset())
        return cls(user=user, permissions=frozenset(user.role_group.permissions))

    def lacks(self, permissions: Iterable[str]) -> set[str]:
        return set() if self.permissions is None else set(permissions) - self.permissions

    def refuse_granting(self, permissions: Iterable[str], *, field: str) -> None:
        if missing := self.lacks(permissions):
            raise ChangeRefused(
                f"You cannot grant permissions you do not hold: {_listed(missing)}.", field=field
            )

    def refuse_removing(self, permissions: Iterable[str], *, field: str) -> None:
        if missing := self.lacks(permissions):
            raise ChangeRefused(
                f"You cannot remove permissions you do not hold: {_listed(missing)}.", field=field
            )

    def refuse_own_group(self, group: RoleGroup) -> None:
        if self.user is not None and self.user.role_group_id == group.pk:
            raise ChangeRefused(
                f"You cannot change your own role group ({group}); "
                "ask someone outside it who holds its permissions."
            )

    def refuse_own_role(self, user: User) -> None:
        if self.is_self(user):
            raise ChangeRefused("You cannot change your own role group.", field="role_group")

    def refuse_account_beyond_own(self, user: User) -> None:
        """Changing an account (its password, email, role) puts its permissions in your hands."""
        held = user.role_group.permissions if user.role_group_id is not None else []
        if missing := self.lacks(held):
            raise ChangeRefused(
                f"You cannot change {user}: their role group holds {_listed(missing)}, "
                "which you do not."
            )

    def refuse_unless_administrator(self, what: str) -> None:
        if self.permissions is not None and not is_administrator(self.permissions):
            raise ChangeRefused(f"Only an Administrator can change {what}.")

    def is_self(self, user: User) -> bool:
        return self.user is not None and self.user.pk == user.pk


def keep_an_administrator(
    *, without_user: User | None = None, without_group: RoleGroup | None = None
) -> None:
    """Refuse a change that would leave the organisation with no active user holding every
    permission. Applies to everyone, the system included; call it inside the change's
    transaction: the organisation's row lock makes two such changes wait for each other."""
    Organization.objects.select_for_update().get(pk=context.current().org_id)
    remaining = User.objects.filter(
        is_active=True, role_group__permissions__contains=sorted(PERMISSIONS)
    )
    if without_user is not None:
        remaining = remaining.exclude(pk=without_user.pk)
    if without_group is not None:
        remaining = remaining.exclude(role_group=without_group)
    if not remaining.exists():
        raise ChangeRefused(
            "That would leave the organisation without an active administrator "
            "(a user holding every permission); make someone else an Administrator first."
        )
