"""The 404 and 500 pages: nothing about the code, the settings or the data, and no database
needed to render them (plain context, no context processors: the database may be why)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.api_errors import error_body
from core.api_schema import not_found


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404. The exception's message is never shown: it can name a model or a URL pattern."""
    if request.path.startswith("/api/"):
        return not_found(request, exception)
    return HttpResponse(render_to_string("404.html"), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the request id (also in the log line and the X-Request-ID header) is the
    only detail, so that an administrator can find the error in the log."""
    request_id = getattr(request, "request_id", None)
    if request.path.startswith("/api/"):
        body = error_body(
            status_code=500, code="server_error", message="Server error.", request_id=request_id
        )
        return JsonResponse(body, status=500)
    return HttpResponse(render_to_string("500.html", {"request_id": request_id}), status=500)
