"""Input no part of the product can store or mean: refused at the door with a clear 400.

PostgreSQL text cannot hold a NUL byte, and no form field or filter means one: a NUL in a
query or form parameter (name or value) answers 400 naming the parameter, as JSON for the
API and as a page elsewhere, before any view turns it into a database error. (The API takes
no forms: its JSON bodies are checked by config/parsers.py and the serializers.)
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.api_errors import error_body

NUL = "\x00"


def _bad_parameter(request: HttpRequest) -> str | None:
    if NUL in request.path:
        return "the address"
    # API bodies are JSON (config/parsers.py refuses NUL keys; serializers name NUL values);
    # reading a form here would consume a multipart body the API must answer 415 for.
    form = request.method == "POST" and not request.path.startswith("/api/")
    sources = [request.GET] + ([request.POST] if form else [])
    for source in sources:
        for name, values in source.lists():
            if NUL in name or any(NUL in value for value in values):
                return repr(name.replace(NUL, "\\0"))
    return None


def bad_request(request: HttpRequest, message: str, param: str | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        # The API's one error shape (core.api_errors).
        name = param or "request"
        body = error_body(
            status_code=400,
            code="invalid",
            message=f"Invalid parameter(s): {name}.",
            params={name: message},
            request_id=getattr(request, "request_id", None),
        )
        return JsonResponse(body, status=400)
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
