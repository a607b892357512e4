"""Who may call an API endpoint: token scopes or role permissions, and per-token rate limits.

A view declares the token scope it needs (SPEC §8.2), either `required_scope` for every
method or `read_scope` and `write_scope`, and `required_permission` for signed-in people;
`ScopeOrPermission` enforces both and answers 403 naming what is missing
(accounts.api_schema documents both in the OpenAPI schema).
`TokenRateThrottle` limits each API token separately, on the shared Redis cache.
"""

import logging
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from redis.exceptions import RedisError
from rest_framework import exceptions, permissions, throttling

from accounts.authentication import ApiClient
from accounts.models import ApiToken

log = logging.getLogger(__name__)

DEFAULT_RATE_PER_TOKEN = "600/minute"  # noqa: S105 - a rate, not a secret


def required_scope(view: Any, method: str) -> str | None:
    """The token scope `view` needs for an HTTP `method`; None: tokens may not call it."""
    if method.upper() in permissions.SAFE_METHODS:
        return getattr(view, "read_scope", None) or getattr(view, "required_scope", None)
    return getattr(view, "write_scope", None) or getattr(view, "required_scope", None)


class ScopeOrPermission(permissions.BasePermission):
    """Tokens need the view's scope for the method; people need its organisation permission."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False  # DRF answers 401 with the Bearer challenge
        scope = required_scope(view, request.method)
        permission = getattr(view, "required_permission", None)
        if isinstance(user, ApiClient):
            if scope is None:
                raise exceptions.PermissionDenied("API tokens cannot use this endpoint.")
            if not user.has_scope(scope):
                raise exceptions.PermissionDenied(
                    {
                        "detail": f"This API token does not have the {scope!r} scope.",
                        "missing_scope": scope,
                    }
                )
            return True
        if getattr(user, "org_id", None) is None:
            raise exceptions.PermissionDenied("Only members of an organisation can use this API.")
        if permission is not None and not user.has_org_perm(permission):
            raise exceptions.PermissionDenied(
                {
                    "detail": f"Your role does not include the {permission!r} permission.",
                    "missing_permission": permission,
                }
            )
        return True


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Per API token: each token has its own budget; session requests are not limited here.

    The rate is read from settings.API_TOKEN_RATE on each request (not frozen at import),
    so deployments and tests can change it.
    """

    scope = "token"

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str:
        return getattr(settings, "API_TOKEN_RATE", DEFAULT_RATE_PER_TOKEN)

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            # The limits live in Redis; while it is down the API keeps working unlimited
            # rather than failing every request (changes never depend on Redis).
            log.warning("rate limit cache unreachable; request allowed without a limit")
            return True

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = request.user
        if not isinstance(user, ApiClient):
            return None
        # The prefix is the token's unique public id; unlike the pk it is never reused.
        return self.cache_format % {"scope": self.scope, "ident": user.token.prefix}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents organisation API tokens in the OpenAPI schema (`Authorization: Bearer …`)."""

    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organisation API token (Settings > Security > API Tokens) "
            f"with some of the scopes {', '.join(ApiToken.SCOPES)}; each operation names "
            "the one it needs (`x-token-scope`). A write scope includes its read scope.",
        }
