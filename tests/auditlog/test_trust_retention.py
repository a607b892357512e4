"""Retention: expired rows leave through the owner's purge only, whole seals at a time, each
purge leaving a signed tombstone; the policy is the sealed log's own; a month past every
organisation's retention is dropped whole; the chain still verifies against the digests."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.utils import timezone

from accounts.models import Organization
from accounts.services import role_group_create
from auditlog import catalog, daycounts, integrity, partitions, retention
from auditlog.models import (
    AuditDigest,
    AuditEvent,
    AuditEventDayCount,
    AuditPurge,
    AuditRetention,
    AuditSeal,
)
from auditlog.recorder import record
from conversations.services import customer_create
from core import clock


def _at(days_ago: float):
    moment = timezone.now() - timedelta(days=days_ago)
    return clock.use(lambda: moment)


def _sign_in(user_id: str = "1") -> None:
    record(section="Session", action="login", subject_id=user_id, subject_name="Ann Agent")


def _sections(org) -> dict[str, int]:
    counts: dict[str, int] = {}
    for section in AuditEvent.objects.for_org(org.pk).values_list("section", flat=True):
        counts[section] = counts.get(section, 0) + 1
    return counts


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def _seal() -> None:
    integrity.seal(margin_seconds=0)


def _verified(org) -> None:
    for source in ("database", "files"):
        report = integrity.verify(org.pk, full=True, digest_source=source, check_tail=True)
        assert report.verified, (source, report.first_broken_link)


def _days(org, section: str) -> int:
    return retention.org_policies(org.pk, using="owner").policy(catalog.section(section)).days


def test_expired_rows_are_purged_by_section_and_the_chain_still_verifies(org):
    with _at(100):
        _sign_in()
        role_group_create(name="Old but kept a year", permissions=[])
    with _at(10):
        _sign_in()
    _seal()
    before = _sections(org)

    summary = retention.retention_purge()

    after = _sections(org)
    assert summary.events_purged == 1
    assert after["Session"] == before["Session"] - 1 == 1  # the 100-day-old sign-in went
    assert after["Role Group"] == before["Role Group"]  # settings-like changes keep 365 days
    receipt = AuditPurge.objects.get(org_id=org.pk, section="Session")
    assert (receipt.through_seq, receipt.events_purged, receipt.seals_purged) == (1, 1, 1)
    assert not AuditSeal.objects.filter(org_id=org.pk, section="Session", seq=1).exists()
    sealed, purged = (
        digest.document
        for digest in AuditDigest.objects.filter(
            org_id=org.pk, section="Session", seal_seq=1
        ).order_by("seq")
    )
    assert purged["purged"]["through_seal_seq"] == 1 and purged["purged"]["event_count"] == 1
    assert purged["purged"]["policy"] == {"days": 90, "source": "default", "event_id": None}
    assert sealed["purged"] is None  # the seal's own digest stays, signed
    _verified(org)
    # Purging again removes nothing more.
    assert retention.retention_purge().events_purged == 0


def test_unsealed_rows_are_never_purged(org):
    with _at(200):
        _sign_in()
    assert retention.retention_purge().events_purged == 0
    assert _sections(org)["Session"] == 1


def test_an_organisations_setting_and_upper_bound_shorten_retention_once_sealed(org):
    with _at(40):
        role_group_create(name="Forty days old", permissions=[])
    with _at(25):
        customer_create(name="Twenty-five days old")
    with _at(5):
        customer_create(name="Recent")
    _seal()
    retention.retention_set(org, 30, event_type="authorization")
    retention.retention_set(org, 20)
    # Not sealed yet: the policy in force is still the default, and nothing is purged.
    assert _days(org, "Role Group") == 365
    assert retention.retention_purge().events_purged == 0
    _seal()
    assert _days(org, "Role Group") == 20
    assert _days(org, "Customer") == 20
    retention.retention_purge()
    names = set(AuditEvent.objects.for_org(org.pk).values_list("subject_name", flat=True))
    assert "Forty days old" not in names and "Twenty-five days old" not in names
    assert "Recent" in names
    policy = AuditDigest.objects.filter(org_id=org.pk, section="Customer").order_by("-seq")
    tombstone = policy.first().document["purged"]
    change = AuditEvent.objects.for_org(org.pk).get(
        section="Organisation", property="retention_days", metadata={}
    )
    assert tombstone["policy"] == {"days": 20, "source": "event", "event_id": str(change.pk)}
    _verified(org)


def test_lowering_retention_with_sql_alone_purges_nothing(org):
    with _at(40):
        role_group_create(name="Forty days old", permissions=[])
    AuditRetention.objects.create(event_type="authorization", days=1)
    Organization.objects.filter(pk=org.pk).update(audit_retention_days=1)
    _seal()
    assert _days(org, "Role Group") == 365
    assert retention.retention_purge().events_purged == 0
    names = set(AuditEvent.objects.for_org(org.pk).values_list("subject_name", flat=True))
    assert "Forty days old" in names


def test_a_purge_only_removes_whole_seals(org):
    """A seal holding one expired and one unexpired event waits until both are expired."""
    day = (timezone.now() - timedelta(days=90)).astimezone(UTC).date()
    early = datetime(day.year, day.month, day.day, 0, 0, 1, tzinfo=UTC)
    with clock.use(lambda: early):
        _sign_in("1")
    later = timezone.now() - timedelta(days=90) + timedelta(minutes=1)  # not expired yet
    if later.astimezone(UTC).date() != day:
        pytest.skip("the two moments must share a UTC day (a seal never spans two)")
    with clock.use(lambda: later):
        _sign_in("2")
    _seal()
    assert AuditSeal.objects.get(org_id=org.pk, section="Session").event_count == 2
    assert retention.retention_purge().events_purged == 0


def test_a_month_past_every_retention_is_dropped_whole(org, other_org):
    with _at(500):
        _sign_in()
        role_group_create(name="Very old", permissions=[])
    # The rows waited in the DEFAULT partition; their month's partition is made for them.
    created = partitions.partitions_ensure()
    month = (timezone.now() - timedelta(days=500)).astimezone(UTC)
    name = f"auditlog_auditevent_p{month:%Y%m}"
    assert name in created
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auditlog_auditevent_default")
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT count(*) FROM {name}")
        assert cursor.fetchone()[0] == 2
    _seal()
    daycounts.roll_up()
    old_day = month.date()
    assert AuditEventDayCount.objects.filter(org_id=org.pk, day=old_day).exists()

    summary = retention.retention_purge()

    assert name in summary.partitions_dropped
    # The volume strip's day counts lose the dropped month too.
    assert not AuditEventDayCount.objects.filter(org_id=org.pk, day__lte=old_day).exists()
    assert name not in {p.name for p in partitions.partitions()}
    assert "Very old" not in set(
        AuditEvent.objects.for_org(org.pk).values_list("subject_name", flat=True)
    )
    assert AuditPurge.objects.filter(org_id=org.pk, section="Role Group").exists()
    assert summary.tombstones >= 2  # Session and Role Group
    _verified(org)


def test_partitions_are_created_ahead(db):
    created = partitions.partitions_ensure(months_ahead=5)
    names = {p.name for p in partitions.partitions()}
    start = timezone.now().astimezone(UTC).replace(day=1)
    for months in range(6):
        index = start.year * 12 + start.month - 1 + months
        assert f"auditlog_auditevent_p{index // 12}{index % 12 + 1:02d}" in names
    assert len(created) == 2  # the migration made this month and the next three
    assert partitions.partitions_ensure(months_ahead=5) == []
