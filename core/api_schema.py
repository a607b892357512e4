"""OpenAPI schema finishing touches shared by every API app, and JSON 404s under /api/.

Every DRF endpoint can answer 401, 403, 404 (ids of other organisations), 429 (per-token
throttling) and, for input, 400; each body is a JSON object with `detail` or per-field
messages plus `status` and `request_id` (core/api_errors.py). The hook documents those
where a view did not, so clients and schemathesis see the API as it really answers.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

ERROR_COMPONENT = "ApiError"
# Deliberately loose: an invalid body names its fields at the top level, and a field may be
# called `detail` or `status` itself, so no member's type is promised here.
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error: `detail` (or per-field messages for an invalid body), the HTTP "
    "`status` and the `request_id`; bad query parameters are listed in `errors`.",
    "properties": {
        "detail": {"description": "What went wrong."},
        "errors": {"description": "Bad query parameters: {parameter: problem}."},
        "status": {"description": "The HTTP status code."},
        "request_id": {"description": "Quote it when reporting a problem."},
    },
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    "400": "Invalid input; the body names each field or parameter at fault.",
    "401": "No or invalid credentials.",
    "403": "Missing token scope or role permission.",
    "404": "Not found: unknown id, another organisation's id, or an invalid page cursor.",
    "429": "Too many requests for this API token; see Retry-After.",
}


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the standard error answers to every operation."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, _ERROR_SCHEMA)
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # 404 everywhere: ids of other organisations, and e.g. DRF's invalid page cursors.
            codes = ["401", "403", "404", "429"]
            if method in ("post", "put", "patch") or operation.get("parameters"):
                codes.append("400")
            responses = operation["responses"]
            for code in codes:
                if code not in responses:
                    responses[code] = {
                        "content": {"application/json": {"schema": reference}},
                        "description": _DESCRIPTIONS[code],
                    }
            retry_after = responses["429"].setdefault("headers", {})
            retry_after.setdefault(
                "Retry-After",
                {"schema": {"type": "integer"}, "description": "Seconds to wait."},
            )
    return result


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: API clients get JSON like every other API error, people get the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "status": 404}, status=404)
    return defaults.page_not_found(request, exception)
