"""API authentication by organisation token; the token becomes the audit actor."""

from typing import Any

from rest_framework import authentication, exceptions

from accounts.models import ApiToken
from accounts.services import api_token_authenticate
from core import context
from core.context import Actor

# Writing answers the object written (and PATCH {} would read it), so a write scope reads too.
IMPLIED_BY = {
    "customers:read": "customers:write",
    "conversations:read": "conversations:write",
}


class ApiClient:
    """`request.user` for token requests: an organisation's integration, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_org_admin = False
    pk = None

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.org_id = token.org_id
        self.org = token.org
        self.name = token.name

    def has_scope(self, scope: str) -> bool:
        granted = self.token.scopes
        return scope in granted or IMPLIED_BY.get(scope) in granted

    def has_org_perm(self, code: str) -> bool:
        return False

    def __str__(self) -> str:
        return f"API: {self.name}"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[ApiClient, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        token = api_token_authenticate(raw.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        # DRF authenticates inside the view, after every middleware: bind the actor here.
        context.bind(org_id=token.org_id, actor=Actor("api", str(token.pk), token.name))
        return ApiClient(token), token

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="api"'
