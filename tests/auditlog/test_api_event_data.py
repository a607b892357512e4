"""The API's fast event rendering (serializers.event_data) gives exactly what DRF's fields give."""

from typing import Any

from rest_framework import serializers as drf

from auditlog import context
from auditlog.context import Actor
from auditlog.models import AuditEvent
from auditlog.recorder import record
from auditlog.serializers import AuditEventSerializer, event_data
from conversations.services import customer_create, customer_update


def drf_rendering(event: AuditEvent) -> dict[str, Any]:
    """What the declared fields render, field by field (the serializer's shape of record)."""
    data = drf.Serializer.to_representation(AuditEventSerializer(), event)
    data["change_id"] = str(event.change_id)
    data["ip_address"] = None if event.ip_address is None else str(event.ip_address)
    return dict(data)


def test_event_data_matches_the_declared_fields(org: Any, admin: Any) -> None:
    with context.use(
        org_id=org.pk,
        actor=Actor.for_user(admin),
        ip_address="2001:db8::7",
        user_agent='Zoë\'s browser, "quoted"',
        request_id="r-1",
    ):
        customer = customer_create(name="Zoë Ørsted – 東京", email="z@example.com", tags=["vip"])
        customer_update(customer=customer, tags=["vip", "billing"], phone="+1 555 0100")
    with context.use(org_id=org.pk, actor=Actor.system()):
        record(
            section="Work Session",
            action="update",
            subject_type="user",
            subject_id=str(admin.pk),
            subject_name=admin.name,
            property="status",
            before="Available",
            after=None,
            metadata={"reason": "heartbeat_lapse", "nested": {"a": [1, 2.5, None]}},
        )
    events = list(AuditEvent.objects.for_org(org.pk).order_by("id"))
    assert len(events) >= 5
    for event in events:
        assert event_data(event) == drf_rendering(event)
        assert list(event_data(event)) == list(AuditEventSerializer().fields)
    assert AuditEventSerializer(events, many=True).data == [event_data(e) for e in events]
