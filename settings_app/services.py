"""Every write to searches, shortcuts, business rules and support access (its expiry too).

Services validate what they store (criteria, actions, columns, names) and raise
django.core.exceptions.ValidationError with a message a form or API can show; the
recorder turns each save or delete into audit rows in the same transaction.
"""

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from auditlog import recorder
from core import clock, context
from settings_app.criteria import validate_actions, validate_criteria
from settings_app.models import (
    SEARCH_COLUMNS,
    BusinessRule,
    Macro,
    SavedSearch,
    SavedView,
    Shortcut,
    SupportAccess,
)


def _clean_name(name: str, model: type, *, exclude_pk: int | None = None, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": f"A {what} needs a name."})
    taken = model.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": f"A {what} named {name!r} already exists."})
    return name


def validate_columns(data: Any) -> list[str]:
    """A saved search's columns: a non-empty list of known column names, each once."""
    if not isinstance(data, list) or not data:
        raise ValidationError("Columns must be a non-empty list of column names.")
    unknown = [column for column in data if column not in SEARCH_COLUMNS]
    if unknown:
        raise ValidationError(
            f"Unknown column {unknown[0]!r} (known columns: {', '.join(SEARCH_COLUMNS)})."
        )
    if len(set(data)) != len(data):
        raise ValidationError("Each column may appear only once.")
    return list(data)


# Business rules ------------------------------------------------------------------------------


def _next_rule_position() -> int:
    highest = BusinessRule.objects.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1


def business_rule_create(
    *,
    name: str,
    criteria: Any,
    actions: Any,
    enabled: bool = True,
    position: int | None = None,
) -> BusinessRule:
    """A new rule; with no position it runs after the existing ones."""
    with transaction.atomic():
        rule = BusinessRule(
            name=_clean_name(name, BusinessRule, what="business rule"),
            criteria=validate_criteria(criteria),
            actions=validate_actions(actions),
            enabled=enabled,
            position=_next_rule_position() if position is None else _position(position),
            created_at=clock.now(),
        )
        rule.save()
    return rule


def _position(position: int) -> int:
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise ValidationError({"position": "Position must be a whole number, 0 or more."})
    return position


def business_rule_update(
    *,
    rule: BusinessRule,
    name: str | None = None,
    criteria: Any = None,
    actions: Any = None,
    enabled: bool | None = None,
    position: int | None = None,
) -> BusinessRule:
    """Change the given attributes; only the ones that really change produce audit rows."""
    if name is not None:
        rule.name = _clean_name(name, BusinessRule, exclude_pk=rule.pk, what="business rule")
    if criteria is not None:
        rule.criteria = validate_criteria(criteria)
    if actions is not None:
        rule.actions = validate_actions(actions)
    if enabled is not None:
        rule.enabled = bool(enabled)
    if position is not None:
        rule.position = _position(position)
    rule.save()
    return rule


def business_rule_delete(*, rule: BusinessRule) -> None:
    rule.delete()


# Saved searches ------------------------------------------------------------------------------


def search_create(*, name: str, criteria: Any, columns: list[str] | None = None) -> SavedSearch:
    with transaction.atomic():
        search = SavedSearch(
            name=_clean_name(name, SavedSearch, what="search"),
            criteria=validate_criteria(criteria),
            created_at=clock.now(),
        )
        if columns is not None:
            search.columns = validate_columns(columns)
        search.save()
    return search


def search_update(
    *,
    search: SavedSearch,
    name: str | None = None,
    criteria: Any = None,
    columns: list[str] | None = None,
) -> SavedSearch:
    if name is not None:
        search.name = _clean_name(name, SavedSearch, exclude_pk=search.pk, what="search")
    if criteria is not None:
        search.criteria = validate_criteria(criteria)
    if columns is not None:
        search.columns = validate_columns(columns)
    search.save()
    return search


def search_delete(*, search: SavedSearch) -> None:
    search.delete()


# Shortcuts -----------------------------------------------------------------------------------


def _shortcut_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "A shortcut needs some text."})
    return text


def shortcut_create(*, name: str, text: str, category: str = "") -> Shortcut:
    with transaction.atomic():
        shortcut = Shortcut(
            name=_clean_name(name, Shortcut, what="shortcut"),
            text=_shortcut_text(text),
            category=(category or "").strip(),
            created_at=clock.now(),
        )
        shortcut.save()
    return shortcut


def shortcut_update(
    *,
    shortcut: Shortcut,
    name: str | None = None,
    text: str | None = None,
    category: str | None = None,
) -> Shortcut:
    if name is not None:
        shortcut.name = _clean_name(name, Shortcut, exclude_pk=shortcut.pk, what="shortcut")
    if text is not None:
        shortcut.text = _shortcut_text(text)
    if category is not None:
        shortcut.category = category.strip()
    shortcut.save()
    return shortcut


def shortcut_delete(*, shortcut: Shortcut) -> None:
    shortcut.delete()


# Support access ------------------------------------------------------------------------------


def _access_level(access_level: str) -> str:
    if access_level not in SupportAccess.ACCESS_LEVELS:
        raise ValidationError(
            {
                "access_level": f"Unknown access level {access_level!r} "
                f"(choose from {', '.join(SupportAccess.ACCESS_LEVELS)})."
            }
        )
    return access_level


def _expiry(expires_at: datetime) -> datetime:
    """A future, time-zone-aware expiry, to the minute (as the page shows and edits it)."""
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        raise ValidationError({"expires_at": "The expiry must be a date and time with a zone."})
    # UTC, so the audit rows show one notation whichever zone the person typed it in.
    expires_at = expires_at.astimezone(UTC).replace(second=0, microsecond=0)
    if expires_at <= clock.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    return expires_at


def support_access_grant(
    *, access_level: str, expires_at: datetime, reason: str = ""
) -> SupportAccess:
    """Let the vendor's support staff in, at a level, until a time in the future."""
    grant = SupportAccess(
        enabled=True,
        access_level=_access_level(access_level),
        expires_at=_expiry(expires_at),
        reason=(reason or "").strip(),
        created_at=clock.now(),
    )
    grant.save()
    return grant


def support_access_update(
    *,
    grant: SupportAccess,
    access_level: str | None = None,
    expires_at: datetime | None = None,
    enabled: bool | None = None,
    reason: str | None = None,
) -> SupportAccess:
    """Change level or expiry, or re-enable a revoked grant (which then needs a future expiry)."""
    if access_level is not None:
        grant.access_level = _access_level(access_level)
    if expires_at is not None and expires_at.replace(second=0, microsecond=0) != grant.expires_at:
        grant.expires_at = _expiry(expires_at)
    if enabled is not None:
        if enabled and not grant.enabled and grant.expires_at <= clock.now():
            raise ValidationError(
                {"expires_at": "To re-enable an expired grant, give it an expiry in the future."}
            )
        grant.enabled = bool(enabled)
    if reason is not None:
        grant.reason = reason.strip()
    grant.save()
    return grant


def support_access_revoke(*, grant: SupportAccess) -> SupportAccess:
    """End a grant now; recorded as `enabled` true -> false. Revoking twice changes nothing."""
    grant.enabled = False
    grant.save()
    return grant


def support_access_delete(*, grant: SupportAccess) -> None:
    grant.delete()


def support_access_expire() -> list[int]:
    """Disable the current organisation's grants past their expiry: an `enabled` true -> false
    row performed by `system` with metadata.reason "expired". Returns the grants' ids.

    Grants another transaction holds (an Administrator editing one) wait for the next run.
    """
    expired: list[int] = []
    with (
        context.use(actor=context.SYSTEM),
        recorder.noting(reason="expired"),
        transaction.atomic(),
    ):
        grants = SupportAccess.objects.select_for_update(skip_locked=True).filter(
            enabled=True, expires_at__lte=clock.now()
        )
        for grant in grants.order_by("expires_at", "pk"):
            grant.enabled = False
            grant.save(update_fields=["enabled"])
            expired.append(grant.pk)
    return expired


# Macros --------------------------------------------------------------------------------------


def _macro_tags(tags: Any) -> list[str]:
    """Tags to add: text without commas, each once, in the order given."""
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list | tuple) or not all(isinstance(tag, str) for tag in tags):
        raise ValidationError({"tags": "Tags must be a list of words."})
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    if any(len(tag) > 50 for tag in cleaned):
        raise ValidationError({"tags": "A tag is at most 50 characters."})
    return cleaned


def macro_create(*, name: str, text: str = "", tags: Any = ()) -> Macro:
    with transaction.atomic():
        macro = Macro(
            name=_clean_name(name, Macro, what="macro"),
            text=(text or "").strip(),
            tags=_macro_tags(list(tags) if isinstance(tags, tuple) else tags),
            created_at=clock.now(),
        )
        macro.save()
    return macro


def macro_update(
    *, macro: Macro, name: str | None = None, text: str | None = None, tags: Any = None
) -> Macro:
    if name is not None:
        macro.name = _clean_name(name, Macro, exclude_pk=macro.pk, what="macro")
    if text is not None:
        macro.text = text.strip()
    if tags is not None:
        macro.tags = _macro_tags(tags)
    macro.save()
    return macro


def macro_delete(*, macro: Macro) -> None:
    macro.delete()


# Saved views of the Audit Log --------------------------------------------------------------

SAVED_VIEW_QUERY_MAX = 1000


def _saved_view_fields(name: Any, query: Any) -> tuple[str, str]:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "A saved view needs a name."})
    if len(name) > 200:
        raise ValidationError({"name": "A name is at most 200 characters."})
    if not isinstance(query, str) or not query.strip():
        raise ValidationError({"query": "A saved view needs a query."})
    if len(query) > SAVED_VIEW_QUERY_MAX:
        raise ValidationError({"query": f"A query is at most {SAVED_VIEW_QUERY_MAX} characters."})
    return name, query.strip()


def saved_view_create(
    *, name: str, query: str, shared: bool = False, owner: Any = None
) -> SavedView:
    """A view of the Audit Log. The caller checks `query` reads as the search language."""
    name, query = _saved_view_fields(name, query)
    view = SavedView(
        name=name,
        query=query,
        shared=bool(shared) or owner is None,
        owner=owner,
        created_at=clock.now(),
    )
    view.save()
    return view


def saved_view_update(
    *,
    view: SavedView,
    name: str | None = None,
    query: str | None = None,
    shared: bool | None = None,
) -> SavedView:
    new_name, new_query = _saved_view_fields(
        view.name if name is None else name, view.query if query is None else query
    )
    view.name, view.query = new_name, new_query
    if shared is not None:
        view.shared = bool(shared) or view.owner_id is None
    view.save()
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()
