"""Put an object's earlier values back, through the update service its declaration names.

The values come from the audit log's reconstruction (insights.history); writing them goes
through the app's own service (`Audited.restore`) like any edit, so the restore is validated
the same way and recorded as an ordinary `update` performed by whoever restored it.
"""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from insights.history import Kind


def restore(kind: Kind, *, instance: models.Model, values: dict[str, Any]) -> list[str]:
    """Set `values` (property -> value in the log's vocabulary) on an object.

    Returns the names of the properties given. Raises ValidationError when the service refuses
    a value (a name taken since, an expiry now in the past, a user no longer active).
    """
    declaration = kind.declaration
    if declaration.restore is None:
        raise ValidationError(f"{kind.label} objects cannot be restored.")
    prepared: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            value = declaration.empty_as.get(name)
            if value is None:
                raise ValidationError(
                    {name: "The earlier value was empty, which this setting does not allow."}
                )
        elif isinstance(value, str) and _is_datetime(declaration.model, name):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError({name: "The recorded value is not a date."}) from None
        prepared[name] = value
    with transaction.atomic():
        declaration.restore(instance, prepared)
    return sorted(prepared)


def _is_datetime(model: type[models.Model], name: str) -> bool:
    try:
        return isinstance(model._meta.get_field(name), models.DateTimeField)
    except Exception:  # FieldDoesNotExist: a recorded-only property
        return False
