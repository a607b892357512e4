"""JSON shapes of the audit API: the event record of SPEC section 3, pages, exports and errors."""

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from auditlog import catalog
from auditlog.models import AuditEvent, AuditExport

# One timestamp format everywhere (API, CSV, NDJSON): UTC, microseconds, explicit offset.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def utc_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


class PartySerializer(serializers.Serializer):
    """What was acted on: `{type, id, name}`."""

    type = serializers.CharField()
    id = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_blank=True)


class PerformerSerializer(PartySerializer):
    """Who acted: `{type, id, name}`, the type one of the catalog's performer types."""

    type = serializers.ChoiceField(choices=list(catalog.ACTOR_TYPES))


@extend_schema_field(
    {"type": "string", "format": "date-time", "example": "2025-01-31T14:00:00.000000+00:00"}
)
class UtcTimestampField(serializers.Field):
    def to_representation(self, value: datetime) -> str:
        return utc_timestamp(value)


@extend_schema_field(
    {
        "description": "Any JSON value: string, number, boolean, object, array or null "
        "(the property's value as it was recorded).",
        "nullable": True,
    }
)
class AnyJsonField(serializers.JSONField):
    """Any JSON value, or null."""


class AuditEventSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    occurred_at = UtcTimestampField()
    event_type = serializers.ChoiceField(choices=list(catalog.EVENT_TYPES))
    action = serializers.ChoiceField(choices=list(catalog.ACTIONS))
    section = serializers.ChoiceField(choices=list(catalog.section_names()))
    property = serializers.CharField(allow_null=True)
    before = AnyJsonField(allow_null=True)
    after = AnyJsonField(allow_null=True)
    performed_by = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()
    change_id = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=AnyJsonField())

    def get_id(self, event: AuditEvent) -> str:
        return str(event.pk)

    @extend_schema_field(PerformerSerializer)
    def get_performed_by(self, event: AuditEvent) -> dict[str, Any]:
        return {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name}

    @extend_schema_field(PartySerializer)
    def get_subject(self, event: AuditEvent) -> dict[str, Any]:
        return {"type": event.subject_type, "id": event.subject_id, "name": event.subject_name}

    def to_representation(self, event: AuditEvent) -> dict[str, Any]:
        # The fields above declare the shape (and the OpenAPI schema); event_data builds it.
        return event_data(event)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def event_data(event: AuditEvent) -> dict[str, Any]:
    """One event as AuditEventSerializer's fields render it, built directly.

    DRF's field-by-field rendering (field copies, attribute lookups, choice maps) cost
    about 0.1 ms per event, 5 ms of CPU per page of 50; this is the same dict in a tenth
    of that. tests/auditlog/test_api_event_data.py checks both agree.
    """
    metadata = event.metadata
    return {
        "id": str(event.pk),
        "occurred_at": utc_timestamp(event.occurred_at),
        "event_type": event.event_type,
        "action": event.action,
        "section": _text(event.section),
        "property": _text(event.property),
        "before": event.before,
        "after": event.after,
        "performed_by": {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name},
        "subject": {"type": event.subject_type, "id": event.subject_id, "name": event.subject_name},
        "change_id": _text(event.change_id),
        "ip_address": _text(event.ip_address),
        "user_agent": _text(event.user_agent),
        "request_id": _text(event.request_id),
        "metadata": None if metadata is None else {str(k): v for k, v in metadata.items()},
    }


class AuditEventPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="Older events, or null at the end.")
    previous = serializers.URLField(
        allow_null=True, help_text="Newer events, or null on the newest page."
    )
    cursor = serializers.CharField(
        allow_null=True, help_text="The next page's cursor (the `cursor` of `next`), or null."
    )
    results = AuditEventSerializer(many=True)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    params = serializers.DictField(child=serializers.CharField())


class ErrorSerializer(serializers.Serializer):
    """Every error answer (core/api_errors.py); in the schema the hook of core/api_schema.py
    replaces it with the `ApiError` component, which also lists the optional members."""

    error = ErrorDetailSerializer()
    status = serializers.IntegerField()
    request_id = serializers.CharField(allow_null=True)


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "ndjson"])
    filters = serializers.DictField(
        required=False,
        default=dict,
        help_text="The filters of GET /api/v1/audit-events/ (start, end, event_type, …), "
        "and `order` (desc, the default, or asc: oldest first).",
    )


class ExportSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    download_url = serializers.SerializerMethodField()
    created_at = UtcTimestampField()
    finished_at = UtcTimestampField(allow_null=True)
    expires_at = UtcTimestampField(allow_null=True)
    filters = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = AuditExport
        fields = (
            "id",
            "format",
            "status",
            "progress",
            "rows_written",
            "rows_expected",
            "size_bytes",
            "filters",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
            "download_url",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_download_url(self, export: AuditExport) -> str | None:
        if not export.downloadable:
            return None
        request = self.context.get("request")
        path = export.download_path
        return request.build_absolute_uri(path) if request is not None else path


class ExportPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="Older exports, or null at the end.")
    previous = serializers.URLField(allow_null=True, help_text="Newer exports, or null.")
    cursor = serializers.CharField(
        allow_null=True, help_text="The next page's cursor (the `cursor` of `next`), or null."
    )
    results = ExportSerializer(many=True)
