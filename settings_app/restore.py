"""Put a settings object's earlier values back, through the ordinary update services.

The values come from the audit log's reconstruction (auditlog.history); writing them goes
through settings_app.services like any edit, so the restore is validated the same way and
recorded as an ordinary `update` performed by whoever restored it.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from settings_app import services
from settings_app.models import BusinessRule, SavedSearch, Shortcut, SupportAccess


def _business_rule(rule: BusinessRule, values: dict[str, Any]) -> None:
    services.business_rule_update(rule=rule, **values)


def _search(search: SavedSearch, values: dict[str, Any]) -> None:
    services.search_update(search=search, **values)


def _shortcut(shortcut: Shortcut, values: dict[str, Any]) -> None:
    services.shortcut_update(shortcut=shortcut, **values)


def _support_access(grant: SupportAccess, values: dict[str, Any]) -> None:
    if isinstance(values.get("expires_at"), str):
        try:
            values["expires_at"] = datetime.fromisoformat(values["expires_at"])
        except ValueError:
            raise ValidationError({"expires_at": "The recorded expiry is not a date."}) from None
    services.support_access_update(grant=grant, **values)


RESTORERS: dict[type[models.Model], Callable[[Any, dict[str, Any]], None]] = {
    BusinessRule: _business_rule,
    SavedSearch: _search,
    Shortcut: _shortcut,
    SupportAccess: _support_access,
}

# Properties whose empty value is a real value a service accepts ("" for a category).
_EMPTY_AS: dict[tuple[type[models.Model], str], Any] = {(Shortcut, "category"): ""}


def settings_restore(*, instance: models.Model, values: dict[str, Any]) -> list[str]:
    """Set `values` (property -> value in the log's vocabulary) on a settings object.

    Returns the names of the properties given. Raises ValidationError when a service refuses
    a value (a name taken since, an expiry now in the past, a user no longer active).
    """
    restore = RESTORERS.get(type(instance))
    if restore is None:
        raise ValidationError(
            "Only settings (searches, shortcuts, business rules and support access) can be restored."
        )
    prepared: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            value = _EMPTY_AS.get((type(instance), name))
            if value is None:
                raise ValidationError(
                    {name: "The earlier value was empty, which this setting does not allow."}
                )
        prepared[name] = value
    with transaction.atomic():
        restore(instance, prepared)
    return sorted(prepared)
