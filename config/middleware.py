"""Input no part of the product can store or mean: refused at the door with a clear 400.

PostgreSQL text cannot hold a NUL byte, and no form field or filter means one: a NUL in a
query or form parameter (name or value) answers 400 naming the parameter, as JSON for the
API and as a page elsewhere, before any view turns it into a database error.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

NUL = "\x00"


def _bad_parameter(request: HttpRequest) -> str | None:
    if NUL in request.path:
        return "the address"
    sources = [request.GET] + ([request.POST] if request.method == "POST" else [])
    for source in sources:
        for name, values in source.lists():
            if NUL in name or any(NUL in value for value in values):
                return repr(name.replace(NUL, "\\0"))
    return None


def bad_request(request: HttpRequest, message: str, param: str | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        # The API's error shape (core.api_errors.BadParameters).
        name = param or "request"
        return JsonResponse(
            {"detail": f"Invalid parameter(s): {name}.", "errors": {name: message}, "status": 400},
            status=400,
        )
    body = render_to_string("400.html", {"message": message}, request=request)
    return HttpResponse(body, status=400)


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _bad_parameter(request)
        if where is not None:
            message = f"Parameter {where} contains a NUL byte, which no field accepts."
            return bad_request(request, message, where.strip("'"))
        return self.get_response(request)
