"""`GET /api/v1/audit-integrity/`: recompute the caller's organisation's hash chains.

Administrators (session) or API tokens with `audit:read`. The answer says whether the chains
verify, up to which event the whole log holds, how many events are sealed, and the first
broken link if any; the verification also refreshes the viewer's badge.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog import integrity
from auditlog.api import COMMON_ERRORS, RETRY_AFTER, AuditApiView, request_org


class VerifiedUpToSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class BrokenLinkSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        allow_null=True, help_text="The event that changed, went missing or was added."
    )
    seal_seq = serializers.IntegerField(help_text="The seal (in its section's chain) that broke.")
    section = serializers.CharField(help_text="Each section of the log is sealed as its own chain.")
    problem = serializers.ChoiceField(
        choices=["row changed", "row missing", "row added", "seal missing", "seal changed"]
    )
    detail = serializers.CharField()


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


class AuditIntegrityView(AuditApiView):
    @extend_schema(
        operation_id="audit_integrity_retrieve",
        summary="Verify the organisation's sealed audit hash chains",
        description="Recomputes every seal from the oldest retained one. Events are sealed "
        "minutes after they happen, so the newest events are not covered yet.",
        parameters=[RETRY_AFTER],
        responses={
            200: OpenApiResponse(IntegritySerializer, description="The verification result."),
            **COMMON_ERRORS,
        },
        tags=["audit"],
    )
    def get(self, request: Request) -> Response:
        report = integrity.verify(request_org(request).pk)
        return Response(report.as_dict())
