"""The audit REST API (SPEC section 5): events by cursor, streamed and background exports.

Views stay thin: parse, call filters/paging/exports, render. Administrators (session) and
API tokens with the right scope only; another organisation's ids answer 404.
"""

import hashlib
import json
import uuid
from typing import Any

from django.http import FileResponse, Http404, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.api_access import ScopeOrPermission
from accounts.authentication import ApiClient
from audit_read.export_quota import ExportQuotaExceeded, IdempotencyConflict, export_start_once
from audit_read.exports import (
    FORMATS,
    ExportError,
    export_path,
    export_stream_start,
)
from audit_read.filters import Q_MAX_LENGTH
from audit_read.paging import (
    DEFAULT_PAGE_SIZE,
    DESC,
    MAX_PAGE_SIZE,
    ORDERS,
    PagingError,
    order_from,
)
from audit_read.selectors import audit_events_page
from audit_web.serializers import (
    AuditEventPageSerializer,
    AuditEventSerializer,
    ErrorSerializer,
    ExportPageSerializer,
    ExportRequestSerializer,
    ExportSerializer,
)
from auditlog import catalog
from auditlog.models import AuditEvent, AuditExport
from core.api_errors import ApiCursorPagination, BadParameters, paged_response

_MAX_EVENT_ID = 2**63 - 1


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This export has expired; start a new one."
    default_code = "gone"


class NotReady(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This export has not finished yet; check its progress."
    default_code = "not_ready"


def request_org(request: Request) -> Any:
    """The caller's organisation: the token's, or the signed-in person's."""
    return request.user.org


def _id_schema(what: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": _MAX_EVENT_ID, "description": what}


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_EVENT_TYPE = "|".join(catalog.EVENT_TYPES)
_DATE_OR_DATETIME = {
    "oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}

FILTER_PARAMETERS: list[OpenApiParameter] = [
    OpenApiParameter(
        "start",
        _DATE_OR_DATETIME,
        description="From this day (YYYY-MM-DD, in the organisation's time zone) or ISO 8601 "
        "date-time (without an offset: the organisation's time zone).",
    ),
    OpenApiParameter(
        "end",
        _DATE_OR_DATETIME,
        description="Up to this day inclusive (YYYY-MM-DD, organisation's time zone) or up to "
        "and including an ISO 8601 date-time. Must not be before `start`.",
    ),
    OpenApiParameter(
        "event_type",
        {"type": "string", "pattern": f"^({_EVENT_TYPE})(,({_EVENT_TYPE}))*$"},
        description="One event type or a comma-separated list of: "
        + ", ".join(catalog.EVENT_TYPES),
    ),
    OpenApiParameter(
        "action", _enum(catalog.ACTIONS), description="Exact action (the Event column)."
    ),
    OpenApiParameter("section", _enum(catalog.section_names()), description="Exact section."),
    OpenApiParameter(
        "property", {"type": "string", "maxLength": 64}, description="Exact property name."
    ),
    OpenApiParameter(
        "performed_by",
        _id_schema(
            "Id of the user who performed the change (of the `actor_type` performer if given)."
        ),
    ),
    OpenApiParameter("actor_type", _enum(catalog.ACTOR_TYPES), description="Performed-by type."),
    OpenApiParameter("user", _id_schema("Authorization events about this user (logins, changes).")),
    OpenApiParameter(
        "kind", _enum(catalog.settings_kinds()), description="Settings events of one kind."
    ),
    OpenApiParameter("agent", _id_schema("Work-session events of this agent (user id).")),
    OpenApiParameter(
        "subject_type",
        {"type": "string", "maxLength": 64},
        description="Type of the object acted on.",
    ),
    OpenApiParameter(
        "subject_id", {"type": "string", "maxLength": 64}, description="Id of the object acted on."
    ),
    OpenApiParameter(
        "ip",
        {"oneOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}]},
        description="IP address the request came from.",
    ),
    OpenApiParameter(
        "q",
        {"type": "string", "maxLength": Q_MAX_LENGTH},
        description="Free text in subject name, performed-by name, before and after values "
        "(case-insensitive substring).",
    ),
]
ORDER_PARAMETER = OpenApiParameter(
    "order",
    {"type": "string", "enum": list(ORDERS), "default": DESC},
    description="desc: newest first (the default); asc: oldest first. Both order by "
    "(occurred_at, id); a cursor is valid only with the order it was made for.",
)
PAGING_PARAMETERS: list[OpenApiParameter] = [
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
        description=f"Events per page, 1 to {MAX_PAGE_SIZE}.",
    ),
    OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        description="Opaque cursor: the page's `cursor`, or from its `next` or `previous` "
        "link; valid only with the same filters and order.",
    ),
]

_ERROR = OpenApiResponse(ErrorSerializer, description="Error: `error.message` says what.")
_BAD_INPUT = OpenApiResponse(
    ErrorSerializer,
    description="Bad input: `error.params` maps each bad parameter to its problem.",
)
_THROTTLED = OpenApiResponse(
    ErrorSerializer,
    description="Too many requests for this API token; retry after `Retry-After` seconds.",
)
COMMON_ERRORS: dict[int, OpenApiResponse] = {
    401: OpenApiResponse(ErrorSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="The token lacks the scope (`error.missing_scope`) or the person the "
        "permission (`error.missing_permission`).",
    ),
    429: _THROTTLED,
}
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before the token may call again.",
)


class AuditApiView(APIView):
    permission_classes = [ScopeOrPermission]
    required_scope = "audit:read"
    required_permission = "audit.view"


class AuditEventListView(AuditApiView):
    @extend_schema(
        operation_id="audit_events_list",
        summary="List audit events, newest first (or oldest first)",
        description="Keyset pages; `Link` (RFC 8288) names the next and previous pages, and "
        "`cursor` is the next page's cursor.",
        parameters=[*FILTER_PARAMETERS, ORDER_PARAMETER, *PAGING_PARAMETERS, RETRY_AFTER],
        responses={200: AuditEventPageSerializer, 400: _BAD_INPUT, **COMMON_ERRORS},
        tags=["audit"],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        errors: dict[str, str] = {}
        order = DESC
        try:
            order = order_from(params)
        except PagingError as problem:
            errors |= problem.as_errors()
        found = audit_events_page(
            request_org(request), params, cursor=params.get("cursor"), order=order
        )
        errors |= found.errors
        if errors:
            raise BadParameters(errors)
        page = found.page
        return paged_response(
            AuditEventSerializer(page.items, many=True).data,
            next_url=self._link(request, page.next_cursor),
            previous_url=self._link(request, page.previous_cursor),
            cursor=page.next_cursor,
        )

    @staticmethod
    def _link(request: Request, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = request.build_absolute_uri()
        return replace_query_param(url, "cursor", cursor)


class AuditEventDetailView(AuditApiView):
    @extend_schema(
        operation_id="audit_events_retrieve",
        summary="One audit event",
        parameters=[OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH), RETRY_AFTER],
        responses={200: AuditEventSerializer, 404: _ERROR, **COMMON_ERRORS},
        tags=["audit"],
    )
    def get(self, request: Request, id: str) -> Response:
        # Ids are opaque strings to callers; anything that is not one of ours is simply absent.
        if not id.isascii() or not id.isdigit() or int(id) > _MAX_EVENT_ID:
            raise Http404
        event = AuditEvent.objects.for_org(request_org(request).pk).filter(pk=int(id)).first()
        if event is None:
            raise Http404
        return Response(AuditEventSerializer(event).data)


class _AlwaysJsonErrors:
    """Export endpoints answer files, but their errors are JSON whatever the Accept header."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)


class AuditEventExportView(_AlwaysJsonErrors, AuditApiView):
    required_scope = "audit:export"
    required_permission = "audit.export"
    renderer_classes = [JSONRenderer]

    @extend_schema(
        operation_id="audit_events_export",
        summary="Stream the filtered events as CSV or NDJSON",
        description="The whole filtered set, newest first (`order=asc`: oldest first), "
        "streamed with constant memory. CSV "
        "has a header row; performed_by and subject are flattened to performed_by_type, "
        "performed_by_id, performed_by_name, subject_type, subject_id, subject_name; before, "
        "after and metadata are JSON text. NDJSON has one event object per line.",
        parameters=[
            OpenApiParameter(
                "fmt", _enum(FORMATS), OpenApiParameter.PATH, description="csv or ndjson"
            ),
            *FILTER_PARAMETERS,
            ORDER_PARAMETER,
            RETRY_AFTER,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV file"),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="NDJSON file"
            ),
            400: _BAD_INPUT,
            404: OpenApiResponse(ErrorSerializer, description="Unknown format."),
            **COMMON_ERRORS,
        },
        tags=["audit"],
    )
    def get(self, request: Request, fmt: str) -> StreamingHttpResponse:
        org = request_org(request)
        try:
            chunks = export_stream_start(org=org, fmt=fmt, params=request.query_params)
        except ExportError as error:
            raise BadParameters(error.errors) from None
        response = StreamingHttpResponse(chunks, content_type=FORMATS[fmt]["content_type"])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = (
            f'attachment; filename="audit-events-{org.slug}-{stamp}.{fmt}"'
        )
        response["Cache-Control"] = "no-store"
        return response


class OverExportQuota(exceptions.APIException):
    """429 naming the organisation's export limit; `wait` becomes the Retry-After header."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "export_quota"

    def __init__(self, quota: ExportQuotaExceeded) -> None:
        super().__init__({"detail": quota.message, "limit": quota.limit})
        self.wait = quota.retry_after


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was used for a different request in the last 24 hours; use a new key."
    )
    default_code = "idempotency_conflict"


IDEMPOTENCY_KEY_MAX = 255


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key scoped to its caller (the token, or the user) and
    hashed, or None without one; a malformed key is a 400 naming the header."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not 1 <= len(raw) <= IDEMPOTENCY_KEY_MAX or not raw.isascii() or not raw.isprintable():
        raise BadParameters(
            {"Idempotency-Key": f"Use 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters."}
        )
    user = request.user
    caller = f"token:{user.token.pk}" if isinstance(user, ApiClient) else f"user:{user.pk}"
    return hashlib.sha256(f"{caller}\n{raw}".encode()).hexdigest()


def _request_hash(fmt: str, filters: Any) -> str:
    canonical = json.dumps([fmt, filters], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ExportPagination(ApiCursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ExportListView(AuditApiView):
    required_scope = "audit:export"
    required_permission = "audit.export"

    @extend_schema(
        operation_id="exports_create",
        summary="Start a background export",
        description="Each organisation may have EXPORT_MAX_CONCURRENT exports pending or "
        "running, start EXPORT_MAX_PER_DAY in any 24 hours and keep EXPORT_MAX_DISK_BYTES of "
        "finished files; over a limit the answer is 429 naming it (`error.limit`: "
        "`concurrent_exports`, `daily_exports` or `export_disk_bytes`) with Retry-After.\n\n"
        "With an `Idempotency-Key` header, a retry with the same key (from the same token or "
        "person) within 24 hours answers the first export instead of starting another; the "
        "same key with a different body answers 422.",
        request=ExportRequestSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
                OpenApiParameter.HEADER,
                description="Any unique value (e.g. a UUID) naming this request, so that "
                "retrying it cannot start a second export.",
            ),
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                response=[429],
                description="Seconds to wait: for the token's rate limit or the export limit.",
            ),
        ],
        responses={
            202: ExportSerializer,
            400: _BAD_INPUT,
            **COMMON_ERRORS,
            422: OpenApiResponse(
                ErrorSerializer,
                description="The Idempotency-Key was used for a different request.",
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Over the organisation's export limit (`error.limit` names it) or the "
                "token's rate limit; retry after `Retry-After` seconds.",
            ),
        },
        tags=["exports"],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, dict):
            raise BadParameters({"body": 'Send a JSON object: {"format": …, "filters": {…}}.'})
        fmt = data.get("format")
        if not isinstance(fmt, str) or fmt not in FORMATS:
            raise BadParameters({"format": f"Use one of: {', '.join(FORMATS)}."})
        key = idempotency_key(request)
        filters = data.get("filters") or {}
        try:
            export, _ = export_start_once(
                org=request_org(request),
                fmt=fmt,
                filters=filters,
                requested_by=str(request.user),
                idempotency_key=key,
                request_hash=_request_hash(fmt, filters) if key is not None else "",
            )
        except ExportError as error:
            raise BadParameters(error.errors) from None
        except ExportQuotaExceeded as quota:
            raise OverExportQuota(quota) from None
        except IdempotencyConflict:
            raise IdempotencyKeyReused() from None
        body = ExportSerializer(export, context={"request": request}).data
        location = request.build_absolute_uri(
            reverse("api-export-detail", kwargs={"pk": export.pk})
        )
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        operation_id="exports_list",
        summary="Background exports, newest first",
        description="Cursor pages (`Link` names the next and previous pages; `cursor` is the "
        "next page's cursor).",
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From `cursor` or `next`."),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                description="1 to 500 (default 50).",
            ),
            RETRY_AFTER,
        ],
        responses={200: ExportPageSerializer, **COMMON_ERRORS},
        tags=["exports"],
    )
    def get(self, request: Request) -> Response:
        paginator = ExportPagination()
        page = paginator.paginate_queryset(AuditExport.objects.all(), request, view=self)
        data = ExportSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


def _export_or_404(pk: str) -> AuditExport:
    try:
        export_id = uuid.UUID(pk)
    except ValueError:
        raise Http404 from None
    export = AuditExport.objects.filter(pk=export_id).first()  # the caller's organisation only
    if export is None:
        raise Http404
    return export


class ExportDetailView(AuditApiView):
    required_scope = "audit:export"
    required_permission = "audit.export"

    @extend_schema(
        operation_id="exports_retrieve",
        summary="Status and progress of a background export",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH), RETRY_AFTER],
        responses={200: ExportSerializer, 404: _ERROR, **COMMON_ERRORS},
        tags=["exports"],
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(ExportSerializer(_export_or_404(pk), context={"request": request}).data)


class ExportDownloadView(_AlwaysJsonErrors, AuditApiView):
    required_scope = "audit:export"
    required_permission = "audit.export"

    @extend_schema(
        operation_id="exports_download",
        summary="Download a finished export",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH), RETRY_AFTER],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV file"),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="NDJSON file"
            ),
            404: _ERROR,
            409: OpenApiResponse(ErrorSerializer, description="Not finished yet."),
            410: OpenApiResponse(ErrorSerializer, description="Expired; start a new export."),
            **COMMON_ERRORS,
        },
        tags=["exports"],
    )
    def get(self, request: Request, pk: Any) -> FileResponse:
        export = _export_or_404(pk)
        if export.status == AuditExport.Status.EXPIRED or (
            export.status == AuditExport.Status.DONE and not export.downloadable
        ):
            raise Gone()
        if export.status != AuditExport.Status.DONE:
            raise NotReady()
        path = export_path(export)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise Gone() from None
        stamp = export.created_at.strftime("%Y%m%dT%H%M%SZ")
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"audit-events-{export.org.slug}-{stamp}.{FORMATS[export.format]['extension']}",
            content_type=FORMATS[export.format]["content_type"],
        )
        response["Cache-Control"] = "no-store"
        return response
