"""API errors in one shape, never a bare 500 for bad input; and DRF cursor paging that answers
a foreign cursor the same way. Every app's API uses them.

Every error answer (4xx, and the 500 of config/errors.py) is

    {"error": {"code": "invalid", "message": "Invalid parameter(s): start.",
               "param": "start", "params": {"start": "Use YYYY-MM-DD."}},
     "status": 400, "request_id": "…"}

`param` is the first parameter or field at fault (null when none is), `params` maps each to
its problem ({} when none is). Some errors add a member to `error`: `missing_scope` or
`missing_permission` (403), `limit` (429 over an export limit). core/api_schema.py documents
the shape once, as the `ApiError` component.
"""

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from rest_framework import exceptions, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

CURSOR_SCHEMA: dict[str, Any] = {
    "type": "string",
    "nullable": True,
    "description": "The next page's cursor (the `cursor` of `next`), or null on the last page.",
}

# Members an exception's dict detail may carry into `error` beside the message.
_EXTRA_MEMBERS = ("missing_scope", "missing_permission", "limit")


class BadParameters(exceptions.APIException):
    """400 naming each bad parameter in `error.params`."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        names = ", ".join(errors)
        super().__init__({"detail": f"Invalid parameter(s): {names}.", "errors": errors})


def error_body(
    *,
    status_code: int,
    code: str,
    message: str,
    params: dict[str, str] | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The one error shape (see the module docstring)."""
    params = params or {}
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "param": next(iter(params), None),
        "params": params,
    }
    error.update(extra)
    return {"error": error, "status": status_code, "request_id": request_id}


def _messages(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in _messages(value)]
    if isinstance(detail, list):
        return [text for value in detail for text in _messages(value)]
    return [str(detail)]


def _flatten(detail: Any) -> dict[str, str]:
    """A serializer's errors as {field: its messages}; nested ones (list items, inner
    fields) are joined under their top-level field."""
    if isinstance(detail, dict):
        return {str(key): " ".join(_messages(value)) for key, value in detail.items()}
    return {"body": " ".join(_messages(detail))}


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return str(getattr(exc, "default_code", "error"))


def exception_body(exc: exceptions.APIException, status_code: int, request_id: str | None) -> dict:
    """The error shape for a DRF exception, whatever its `detail` holds."""
    detail = exc.detail
    extra: dict[str, Any] = {}
    params: dict[str, str] = {}
    code = _code(exc)
    if isinstance(exc, exceptions.ValidationError) or (
        isinstance(detail, dict) and "errors" in detail
    ):
        if isinstance(detail, dict) and "errors" in detail:
            params = {str(k): str(v) for k, v in detail["errors"].items()}
            message = str(detail.get("detail", "Invalid input."))
        else:
            params = _flatten(detail)
            message = f"Invalid input: {', '.join(params)}." if params else "Invalid input."
        code = "invalid"
    elif isinstance(detail, dict):
        message = str(detail.get("detail", exc.default_detail))
        extra = {key: str(detail[key]) for key in _EXTRA_MEMBERS if key in detail}
        code = str(getattr(exc, "default_code", code))
    elif isinstance(detail, list):
        message = " ".join(str(item) for item in detail)
    else:
        message = str(detail)
    return error_body(
        status_code=status_code,
        code=code,
        message=message,
        params=params,
        request_id=request_id,
        **extra,
    )


def request_id_of(request: HttpRequest | Any) -> str | None:
    return getattr(request, "request_id", None) if request is not None else None


def exception_handler(exc: Exception, ctx: dict[str, Any]) -> Response | None:
    """DRF's handler (status, Retry-After of throttles and quotas, WWW-Authenticate), with
    the body rewritten in the one error shape."""
    response = drf_exception_handler(exc, ctx)
    if response is None:
        return None
    if not isinstance(exc, exceptions.APIException):
        # Http404 and PermissionDenied of Django: DRF answered with its own equivalent.
        # Http404's message may name a model, so it is not repeated; PermissionDenied's is.
        exc = (
            exceptions.NotFound()
            if response.status_code == status.HTTP_404_NOT_FOUND
            else exceptions.PermissionDenied(*exc.args)
        )
    response.data = exception_body(exc, response.status_code, request_id_of(ctx.get("request")))
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and "Retry-After" not in response:
        # A throttle that cannot say how long still tells the client to wait a little.
        response["Retry-After"] = "1"
    return response


def link_header(next_url: str | None, previous_url: str | None) -> str | None:
    """RFC 8288 `Link` value naming a page's neighbours (`rel="next"`, `rel="prev"`)."""
    links = [
        f'<{url}>; rel="{rel}"'
        for url, rel in ((next_url, "next"), (previous_url, "prev"))
        if url is not None
    ]
    return ", ".join(links) or None


def paged_response(
    results: Any, *, next_url: str | None, previous_url: str | None, cursor: str | None
) -> Response:
    """A cursor-paged list: `{next, previous, cursor, results}` (`cursor` is the bare value
    of `next`'s cursor, for clients that do not parse URLs) and the same links in `Link`."""
    body = {"next": next_url, "previous": previous_url, "cursor": cursor, "results": results}
    response = Response(body)
    link = link_header(next_url, previous_url)
    if link is not None:
        response["Link"] = link
    return response


class ApiCursorPagination(CursorPagination):
    """DRF's cursor paging, but a cursor that is not one of ours is bad input: 400 naming
    the `cursor` parameter (as GET /api/v1/audit-events/ answers), not DRF's 404. Pages
    carry the bare next `cursor` beside the links, and a `Link` header (paged_response)."""

    def get_paginated_response(self, data: Any) -> Response:
        next_url = self.get_next_link()
        cursor = None
        if next_url is not None:
            cursor = parse_qs(urlsplit(next_url).query).get(self.cursor_query_param, [None])[0]
        return paged_response(
            data, next_url=next_url, previous_url=self.get_previous_link(), cursor=cursor
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        page = super().get_paginated_response_schema(schema)
        page["properties"]["cursor"] = CURSOR_SCHEMA
        page["required"] = ["next", "previous", "cursor", "results"]
        return page

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise _bad_cursor() from None

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        # DRF's cursors are not signed: a position that is not a value of the ordering field
        # (say, another list's cursor) would be a database error, so it is checked first.
        cursor = self.decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            name = self.get_ordering(request, queryset, view)[0].lstrip("-")
            field = queryset.model._meta.get_field(name)
            try:
                field.run_validators(field.to_python(cursor.position))
            except (ValueError, TypeError, DjangoValidationError):
                raise _bad_cursor() from None
        return super().paginate_queryset(queryset, request, view)


def _bad_cursor() -> BadParameters:
    return BadParameters({"cursor": "This cursor is not valid; start again from the first page."})
