"""OpenAPI: each operation says which API token scope and which role permission it needs.

Separate from accounts.api_access, which DRF's settings import while drf-spectacular's
AutoSchema is still being defined.
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema

from accounts.api_access import ScopeOrPermission, required_scope
from accounts.authentication import IMPLIED_BY


class ScopedAutoSchema(AutoSchema):
    """Each operation says which token scope and which role permission it needs.

    Bearer schemes cannot carry scopes in OpenAPI 3.0's security requirement (only OAuth2
    may), so the scope goes into the description and an `x-token-scope` extension.
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None or not any(
            isinstance(check, ScopeOrPermission) for check in self.view.get_permissions()
        ):
            return operation
        scope = required_scope(self.view, self.method)
        permission = getattr(self.view, "required_permission", None)
        if scope is None:
            access = "API tokens cannot call this operation."
        else:
            implied = IMPLIED_BY.get(scope)
            alternative = f" (or `{implied}`, which includes it)" if implied else ""
            access = f"API tokens need the `{scope}` scope{alternative}."
            operation["x-token-scope"] = scope
        if permission is not None:
            access += f" People need the `{permission}` permission of their role group."
        description = operation.get("description", "")
        operation["description"] = f"{description}\n\n{access}" if description else access
        return operation
