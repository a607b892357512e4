"""`GET /api/v1/audit-integrity/` and its signed digests (docs/trust.md).

Administrators (session) or API tokens with `audit:read`. The answer says whether the chains
verify, up to which event the whole log holds, how many events are sealed, and the first
broken link if any. Verification starts at each chain's verified checkpoint (kept by the
owner's jobs), so it costs the same at 100M events as at 1M; the answer also carries the
public key that verifies the digests, which an auditor checks offline with
scripts/verify_export.py.
"""

from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audit_web.api import COMMON_ERRORS, RETRY_AFTER, AuditApiView, request_org
from auditlog import digests, integrity
from auditlog.models import AuditDigest
from core.api_errors import ApiCursorPagination


class VerifiedUpToSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class BrokenLinkSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        allow_null=True, help_text="The event that changed, went missing or was added."
    )
    seal_seq = serializers.IntegerField(help_text="The seal (in its section's chain) that broke.")
    section = serializers.CharField(help_text="Each section of the log is sealed as its own chain.")
    problem = serializers.ChoiceField(choices=list(integrity.PROBLEMS))
    detail = serializers.CharField()


class PublicKeySerializer(serializers.Serializer):
    key_id = serializers.CharField()
    public_key = serializers.CharField()


class IntegritySerializer(serializers.Serializer):
    verified = serializers.BooleanField(help_text="True when every sealed event matches its seal.")
    verified_up_to = VerifiedUpToSerializer(
        allow_null=True,
        help_text="Every event up to and including this one is sealed and verified; null when "
        "nothing is sealed yet.",
    )
    sealed_events = serializers.IntegerField()
    first_broken_link = BrokenLinkSerializer(allow_null=True)
    checked_at = serializers.DateTimeField()
    public_key = serializers.CharField(
        allow_null=True,
        help_text="Base64 of the raw Ed25519 public key that verifies the signed digests.",
    )
    key_id = serializers.CharField(allow_null=True)
    public_keys = PublicKeySerializer(
        many=True, help_text="Every key digests may be signed with (older keys after rotation)."
    )
    digests_url = serializers.CharField()


def _keys_payload(request: Request) -> dict:
    current = digests.current_public_key()
    return {
        "public_key": None if current is None else current.base64,
        "key_id": None if current is None else current.key_id,
        "public_keys": [
            {"key_id": key.key_id, "public_key": key.base64}
            for key in digests.public_keys().values()
        ],
        "digests_url": request.build_absolute_uri(reverse("api-audit-integrity-digests")),
    }


class AuditIntegrityView(AuditApiView):
    @extend_schema(
        operation_id="audit_integrity_retrieve",
        summary="Verify the organisation's sealed audit hash chains",
        description="Recomputes the seals made since each chain's last verified checkpoint "
        "and checks them against their signed digests. Events are sealed minutes after they "
        "happen, so the newest events are not covered yet. `public_key` verifies the digests "
        "offline (scripts/verify_export.py).",
        parameters=[RETRY_AFTER],
        responses={
            200: OpenApiResponse(IntegritySerializer, description="The verification result."),
            **COMMON_ERRORS,
        },
        tags=["audit"],
    )
    def get(self, request: Request) -> Response:
        report = integrity.verify(request_org(request).pk)
        return Response(report.as_dict() | _keys_payload(request))


class DigestSerializer(serializers.Serializer):
    """A signed digest document (docs/trust.md); its fields are signed as they are."""

    version = serializers.CharField()
    id = serializers.IntegerField()
    org_id = serializers.IntegerField(allow_null=True)
    section = serializers.CharField()
    seal_seq = serializers.IntegerField()
    first_event_id = serializers.CharField(allow_null=True)
    last_event_id = serializers.CharField()
    first_occurred_at = serializers.CharField(allow_null=True)
    last_occurred_at = serializers.CharField()
    event_count = serializers.IntegerField()
    previous_head_hash = serializers.CharField()
    head_hash = serializers.CharField()
    forged_event_ids = serializers.ListField(child=serializers.CharField())
    previous_digest_hash = serializers.CharField(allow_null=True)
    purged = serializers.JSONField(allow_null=True)
    signed_at = serializers.CharField()
    key_id = serializers.CharField()
    signature = serializers.CharField()


class DigestPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    cursor = serializers.CharField(
        allow_null=True, help_text="The next page's cursor (the `cursor` of `next`), or null."
    )
    results = DigestSerializer(many=True)


class DigestPagination(ApiCursorPagination):
    ordering = "seq"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class AuditDigestListView(AuditApiView):
    @extend_schema(
        operation_id="audit_integrity_digests_list",
        summary="List the organisation's signed digests, oldest first",
        description="One digest per seal, and a tombstone per retention purge, each signed "
        "with Ed25519 (docs/trust.md). `/download/` gives them all as one JSON array.",
        parameters=[
            OpenApiParameter("cursor", str, description="From `next` or `previous`."),
            OpenApiParameter("page_size", int, description="1 to 1,000 (default 100)."),
            RETRY_AFTER,
        ],
        responses={200: DigestPageSerializer, **COMMON_ERRORS},
        tags=["audit"],
    )
    def get(self, request: Request) -> Response:
        queryset = AuditDigest.objects.filter(org_id=request_org(request).pk)
        paginator = DigestPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([digest.document for digest in page])


class AuditDigestDownloadView(AuditApiView):
    @extend_schema(
        operation_id="audit_integrity_digests_download",
        summary="Every signed digest of the organisation, as one JSON array",
        parameters=[RETRY_AFTER],
        responses={200: DigestSerializer(many=True), **COMMON_ERRORS},
        tags=["audit"],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        org_id = request_org(request).pk

        def body():  # noqa: ANN202
            yield b"["
            documents = (
                AuditDigest.objects.filter(org_id=org_id)
                .order_by("seq")
                .values_list("document", flat=True)
            )
            for number, document in enumerate(documents.iterator(chunk_size=1000)):
                yield (b",\n" if number else b"\n") + digests.canonical(document)
            yield b"\n]\n"

        response = StreamingHttpResponse(body(), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="digests.json"'
        return response
