"""API errors as JSON that names the parameter and the problem, never a bare 500 for bad input;
and DRF cursor paging that answers a foreign cursor the same way. Every app's API uses them."""

from typing import Any

from rest_framework import exceptions, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class BadParameters(exceptions.APIException):
    """400 naming each bad parameter: `{"detail": …, "errors": {parameter: problem}}`."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: dict[str, str]) -> None:
        names = ", ".join(errors)
        super().__init__({"detail": f"Invalid parameter(s): {names}.", "errors": errors})


def exception_handler(exc: Exception, ctx: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, ctx)
    if response is None:
        return None
    request = ctx.get("request")
    if isinstance(response.data, dict):
        response.data.setdefault("status", response.status_code)
        request_id = getattr(request, "request_id", None) if request is not None else None
        if request_id:
            response.data.setdefault("request_id", request_id)
    return response


class ApiCursorPagination(CursorPagination):
    """DRF's cursor paging, but a cursor that is not one of ours is bad input: 400 naming
    the `cursor` parameter (as GET /api/v1/audit-events/ answers), not DRF's 404."""

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise BadParameters(
                {"cursor": "This cursor is not valid; start again from the first page."}
            ) from None
