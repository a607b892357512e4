"""OpenAPI schema finishing touches shared by every API app, and JSON 404s under /api/.

Every DRF endpoint can answer 401, 403, 404 (ids of other organisations), 429 (per-token
throttling, with Retry-After) and, for input, 400 and 415; every error body has the one shape
of core/api_errors.py, documented once as the `ApiError` component. The hook references it
from every operation's error answers, so clients and schemathesis see the API as it answers.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from core.api_errors import error_body, request_id_of

ERROR_COMPONENT = "ApiError"
ERROR_DETAIL_COMPONENT = "ApiErrorDetail"
_ERROR_DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "What went wrong.",
    "properties": {
        "code": {
            "type": "string",
            "description": "Machine-readable: invalid, not_authenticated, "
            "authentication_failed, permission_denied, not_found, method_not_allowed, "
            "unsupported_media_type, parse_error, throttled, export_quota, idempotency_conflict, "
            "…",
        },
        "message": {"type": "string", "description": "For people."},
        "param": {
            "type": "string",
            "nullable": True,
            "description": "The first parameter or body field at fault, or null.",
        },
        "params": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Each parameter or body field at fault: {name: problem}.",
        },
        "missing_scope": {"type": "string", "description": "403: the token scope needed."},
        "missing_permission": {
            "type": "string",
            "description": "403: the role permission needed.",
        },
        "limit": {"type": "string", "description": "429: the export limit reached."},
    },
    "required": ["code", "message", "param", "params"],
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error answer of the API (core/api_errors.py).",
    "properties": {
        "error": {"$ref": f"#/components/schemas/{ERROR_DETAIL_COMPONENT}"},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "request_id": {
            "type": "string",
            "nullable": True,
            "description": "Quote it when reporting a problem.",
        },
    },
    "required": ["error", "status", "request_id"],
}
_DESCRIPTIONS = {
    "400": "Invalid input; `error.params` names each field or parameter at fault.",
    "401": "No or invalid credentials.",
    "403": "Missing token scope or role permission.",
    "404": "Not found: unknown id, or another organisation's id.",
    "415": "The body is not JSON: send `Content-Type: application/json`.",
    "429": "Too many requests for this API token; see Retry-After.",
}
_RETRY_AFTER = {"schema": {"type": "integer"}, "description": "Seconds to wait."}


def document_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation's error answers (its own and the
    standard ones) use the one `ApiError` component; every 429 declares Retry-After."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = _ERROR_SCHEMA
    components[ERROR_DETAIL_COMPONENT] = _ERROR_DETAIL_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # 404 everywhere: ids of other organisations, unknown formats.
            codes = ["401", "403", "404", "429"]
            if method in ("post", "put", "patch") or operation.get("parameters"):
                codes.append("400")
            if "requestBody" in operation:
                codes.append("415")
            responses = operation["responses"]
            for code in codes:
                responses.setdefault(code, {"description": _DESCRIPTIONS[code]})
            for code, response in responses.items():
                if str(code).startswith("4"):
                    response["content"] = {"application/json": {"schema": reference}}
            responses["429"].setdefault("headers", {}).setdefault("Retry-After", _RETRY_AFTER)
    # Views may name an error serializer; the one component above replaces it.
    components.pop("Error", None)
    components.pop("ErrorDetail", None)
    return result


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: API clients get JSON like every other API error, people get the page."""
    if request.path.startswith("/api/"):
        body = error_body(
            status_code=404,
            code="not_found",
            message="Not found.",
            request_id=request_id_of(request),
        )
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)
