"""The API's fast event rendering (serializers.event_data) gives exactly what DRF's fields give."""

from typing import Any

from rest_framework import serializers as drf

from audit_web.serializers import AuditEventSerializer, event_data
from auditlog.models import AuditEvent
from auditlog.recorder import record
from conversations.services import customer_create, customer_update
from core import context
from core.context import Actor


def drf_rendering(event: AuditEvent) -> dict[str, Any]:
    """What the declared fields render, field by field (the serializer's shape of record)."""
    data = drf.Serializer.to_representation(AuditEventSerializer(), event)
    data["change_id"] = str(event.change_id)
    data["ip_address"] = None if event.ip_address is None else str(event.ip_address)
    return dict(data)


def system_update(org: Any, admin: Any, **values: Any) -> None:
    """A system (automation) change to the admin's Work Session, recorded directly."""
    with context.use(org_id=org.pk, actor=Actor.system()):
        record(
            section="Work Session",
            action="update",
            subject_type="user",
            subject_id=str(admin.pk),
            subject_name=admin.name,
            **values,
        )


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
    system_update(
        org,
        admin,
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


def test_fetch_gives_what_django_gives(org: Any, admin: Any) -> None:
    """AuditEventQuerySet.fetch (the pages' and API's fast row reading) equals list(queryset):
    every attribute, JSON values that need care included, and the instances behave as
    Django's (saved state, database alias)."""
    with context.use(org_id=org.pk, actor=Actor.for_user(admin), ip_address="192.0.2.9"):
        customer = customer_create(name='Zoë – 東京 "q" \\ \'', email="z@example.com", tags=[])
        customer_update(customer=customer, tags=["vip", "😀"], phone="+1 555 0100")
    system_update(
        org,
        admin,
        property="capacity",
        before=2**70,  # beyond 64 bits: orjson declines, Django's decoder reads it
        after=[1.5, None, True, {"k": "v"}],
        metadata={"nested": {"a": [1, 2.5, None]}, "big": -(2**66)},
    )
    queryset = AuditEvent.objects.for_org(org.pk).newest_first()
    expected = list(queryset)
    got = queryset.fetch()
    assert len(got) == len(expected) >= 4
    for fast, slow in zip(got, expected, strict=True):
        fast_values = {k: v for k, v in vars(fast).items() if k != "_state"}
        slow_values = {k: v for k, v in vars(slow).items() if k != "_state"}
        assert fast_values == slow_values
        assert type(fast) is AuditEvent and fast.pk == slow.pk
        assert (fast._state.adding, fast._state.db) == (False, slow._state.db)
    big = next(e for e in got if e.property == "capacity")
    assert big.before == 2**70 and big.metadata["big"] == -(2**66)
    # Sliced, filtered, empty and non-plain querysets give the same as Django's path.
    fresh = AuditEvent.objects.for_org(org.pk).newest_first()
    assert [e.pk for e in fresh[1:3].fetch()] == [e.pk for e in expected[1:3]]
    assert queryset.filter(section="Customer").fetch() == list(queryset.filter(section="Customer"))
    assert AuditEvent.objects.none().fetch() == []
    only = queryset.only("id", "section").fetch()
    assert [e.section for e in only] == [e.section for e in expected]
