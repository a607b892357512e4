"""Retention: expired audit rows leave on schedule, whole seals at a time, with signed tombstones.

The policy in force is one the log itself vouches for. Effective retention of a section =
the catalog's default (90 days for session, work-session, conversation and customer events,
365 for the rest), or the organisation's choice for its event type, capped by the
organisation-wide limit; a choice counts only as a **sealed** `Organisation` /
`retention_days` event whose MAC verified when it was sealed (`retention_set()` records it,
within catalog.RETENTION_DAYS_MIN..MAX; metadata.event_type for one type's retention, none
for the organisation-wide limit). The tables the application writes
(Organization.audit_retention_days, AuditRetention) are a display copy: lowering them with
SQL alone, without that sealed record, purges nothing. While a retention change is waiting
to be sealed, the organisation is not purged at all.

The purge (owner only; `audit_purge` in migration 0012) removes whole seals whose every event
is past retention, leaves a receipt (where the chain now starts) and a signed tombstone
digest (which seals and events, which policy, when): verification accepts a gap only where
a tombstone explains it. Months past every policy are dropped whole (auditlog.partitions),
their chains tombstoned the same way first. Unsealed rows are never purged.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from auditlog import catalog, daycounts, digests, partitions
from auditlog.integrity import manifest_entries
from auditlog.models import AuditEvent, AuditPurge, AuditRetention, AuditRetentionDefault, AuditSeal
from auditlog.roles import owner_db, owner_mode
from core import context

log = logging.getLogger(__name__)

POLICY_SECTION = "Organisation"
POLICY_PROPERTY = "retention_days"


def default_days(section: catalog.Section) -> int:
    if section.name == "Session":
        return catalog.SESSION_RETENTION_DAYS
    return catalog.DEFAULT_RETENTION_DAYS[section.event_type]


def retention_defaults_sync(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: copy the catalog's defaults where reports and operators can read them."""
    wanted = {section.name: section for section in catalog.sections()}
    owner = owner_db(using)
    with owner_mode(using), transaction.atomic(using=owner):
        manager = AuditRetentionDefault.objects.using(owner)
        manager.exclude(section__in=wanted).delete()
        for name, section in wanted.items():
            manager.update_or_create(
                section=name,
                defaults={"event_type": section.event_type, "days": default_days(section)},
            )


# --------------------------------------------------------------------------- changing it


def retention_set(org: Any, days: int, *, event_type: str | None = None) -> None:
    """Change an organisation's retention (all types, or one event type): the display copy and
    the audited `Organisation` / `retention_days` event the purge will act on once sealed."""
    from auditlog import recorder

    if (
        not isinstance(days, int)
        or isinstance(days, bool)
        or not catalog.RETENTION_DAYS_MIN <= days <= catalog.RETENTION_DAYS_MAX
    ):
        raise ValueError(
            "retention must be a whole number of days, "
            f"{catalog.RETENTION_DAYS_MIN} to {catalog.RETENTION_DAYS_MAX}"
        )
    if event_type is not None and event_type not in catalog.EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    with context.use(org_id=org.pk), transaction.atomic():
        if event_type is None:
            before = org.audit_retention_days
            type(org).objects.filter(pk=org.pk).update(audit_retention_days=days)
            org.audit_retention_days = days
        else:
            existing = AuditRetention.all_tenants.filter(org_id=org.pk, event_type=event_type)
            before = existing.values_list("days", flat=True).first()
            AuditRetention.all_tenants.update_or_create(
                org_id=org.pk, event_type=event_type, defaults={"days": days}
            )
        recorder.record(
            section=POLICY_SECTION,
            action="update",
            subject_type="organization",
            subject_id=org.pk,
            subject_name=org.name,
            property=POLICY_PROPERTY,
            before=before,
            after=days,
            metadata={"event_type": event_type} if event_type else None,
            org_id=org.pk,
        )


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class Policy:
    days: int
    source: str  # "default" or "event"
    event_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "source": self.source,
            "event_id": None if self.event_id is None else str(self.event_id),
        }


@dataclass
class OrgPolicies:
    """An organisation's sealed retention changes: the org-wide bound and per-type values."""

    bound: tuple[int, int] | None = None  # (days, event id)
    types: dict[str, tuple[int, int]] = field(default_factory=dict)
    pending: bool = False  # a change not sealed yet: purge nothing

    def policy(self, section: catalog.Section) -> Policy:
        policy = Policy(default_days(section), "default")
        chosen = self.types.get(section.event_type)
        if chosen is not None:
            policy = Policy(chosen[0], "event", chosen[1])
        if self.bound is not None and self.bound[0] < policy.days:
            policy = Policy(self.bound[0], "event", self.bound[1])
        return policy


def org_policies(org_id: int | None, *, using: str) -> OrgPolicies:
    """Read the policy from the sealed log: the newest sealed, MAC-valid retention events."""
    policies = OrgPolicies()
    if org_id is None:
        return policies
    sealed_through = (
        AuditSeal.objects.using(using)
        .filter(org_id=org_id, section=POLICY_SECTION)
        .order_by("-seq")
        .values_list("last_occurred_at", "last_event_id")
        .first()
    )
    # Only events a seal holds (its manifest) and did not list as forged: a row slipped
    # into a sealed range afterwards, with SQL alone, is in no manifest.
    sealed_ids: set[int] = set()
    for manifest, forged_ids in (
        AuditSeal.objects.using(using)
        .filter(org_id=org_id, section=POLICY_SECTION)
        .values_list("manifest", "forged_event_ids")
    ):
        forged = {int(event_id) for event_id in forged_ids}
        sealed_ids |= {
            event_id for event_id, _ in manifest_entries(bytes(manifest)) if event_id not in forged
        }
    with context.use(org_id=org_id):
        events = (
            AuditEvent.objects.using(using)
            .filter(org_id=org_id, section=POLICY_SECTION, property=POLICY_PROPERTY)
            .order_by("occurred_at", "id")
            .values_list("id", "occurred_at", "after", "metadata")
        )
        for event_id, occurred_at, after, metadata in events:
            if sealed_through is None or (occurred_at, event_id) > tuple(sealed_through):
                policies.pending = True
                continue
            if event_id not in sealed_ids or not isinstance(after, int) or after < 1:
                continue
            event_type = (metadata or {}).get("event_type")
            if event_type:
                policies.types[event_type] = (after, event_id)
            else:
                policies.bound = (after, event_id)
    return policies


# --------------------------------------------------------------------------- purging


@dataclass
class PurgeSummary:
    partitions_dropped: list[str] = field(default_factory=list)
    events_purged: int = 0
    tombstones: int = 0


def purge_chain(
    cursor: Any,
    org_id: int | None,
    section: str,
    through: AuditSeal,
    *,
    cutoff: datetime,
    policy: Policy,
    chain: Any,
    using: str,
    delete_events: bool = True,
) -> int:
    """Remove a chain's seals up to `through` (and their events), with receipt and tombstone.

    The seals are recomputed first: rows that were changed or slipped in with SQL must be
    reported, not purged away with the evidence. Returns -1 (and purges nothing) if broken.
    """
    from auditlog.integrity import verify_chain

    check = verify_chain(cursor, org_id, section, using=using, stop_at=through.seq)
    if check.broken is not None:
        log.error(
            "audit retention: chain %s/%s not purged, it does not verify: %s",
            org_id if org_id is not None else "platform",
            section,
            check.broken,
        )
        return -1
    previous = (
        AuditPurge.objects.using(using)
        .filter(org_id=org_id, section=section)
        .order_by("-through_seq")
        .first()
    )
    first = (
        AuditSeal.objects.using(using)
        .filter(org_id=org_id, section=section, seq__lte=through.seq)
        .order_by("seq")
        .first()
    )
    counted = AuditSeal.objects.using(using).filter(
        org_id=org_id, section=section, seq__lte=through.seq
    )
    seals = counted.count()
    sealed_events = sum(counted.values_list("event_count", flat=True))
    if delete_events:
        cursor.execute("SELECT audit_purge(%s, %s, %s)", [org_id, section, through.seq])
        events = cursor.fetchone()[0]
    else:
        # The events left with their partition; the seals go the same way.
        cursor.execute("SELECT set_config('auditlog.purge', 'on', true)")
        counted.delete()
        cursor.execute("SELECT set_config('auditlog.purge', '', true)")
        events = sealed_events
    now = timezone.now()
    AuditPurge.objects.using(using).create(
        org_id=org_id,
        section=section,
        through_seq=through.seq,
        last_hash=bytes(through.hash),
        last_occurred_at=through.last_occurred_at,
        last_event_id=through.last_event_id,
        seals_purged=seals,
        events_purged=events,
        cutoff=cutoff,
        purged_at=now,
    )
    head = bytes(through.hash).hex()
    chain.append(
        section,
        through.seq,
        first_event_id=None if first is None else str(first.first_event_id),
        last_event_id=str(through.last_event_id),
        first_occurred_at=None if first is None else digests.timestamp(first.first_occurred_at),
        last_occurred_at=digests.timestamp(through.last_occurred_at),
        event_count=0,
        previous_head_hash=head,
        head_hash=head,
        forged_event_ids=[],
        purged={
            "through_seal_seq": through.seq,
            "from_seal_seq": None if previous is None else previous.through_seq + 1,
            "event_count": events,
            "first_event_id": None if first is None else str(first.first_event_id),
            "last_event_id": str(through.last_event_id),
            "cutoff": digests.timestamp(cutoff),
            "policy": policy.as_dict(),
            "purged_at": digests.timestamp(now),
        },
    )
    if org_id is not None:  # the platform's rows are in no organisation's day counts
        daycounts.forget(through.last_occurred_at, org_id=org_id, section=section, using=using)
    return events


def _chains(using: str) -> list[tuple[int | None, str]]:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT DISTINCT org_id, section FROM auditlog_auditseal ORDER BY 1, 2")
        return [(row[0], row[1]) for row in cursor.fetchall()]


def retention_purge(*, using: str = "default", now: datetime | None = None) -> PurgeSummary:
    """Drop expired months, then purge each chain's seals that are entirely past retention."""
    from auditlog.integrity import DigestChain, write_digest_files

    now = now or timezone.now()
    owner = owner_db(using)
    digests.private_key()  # no key, no tombstones: purge nothing
    summary = PurgeSummary()
    dropped, tombstones = partitions.partitions_drop_expired(using=using, now=now)
    summary.partitions_dropped, summary.tombstones = dropped, tombstones
    policies: dict[int | None, OrgPolicies] = {}
    with owner_mode(using):
        for org_id, section_name in _chains(owner):
            if org_id not in policies:
                policies[org_id] = org_policies(org_id, using=owner)
            org = policies[org_id]
            if org.pending:
                continue
            policy = org.policy(catalog.section(section_name))
            cutoff = now - timedelta(days=policy.days)
            through = (
                AuditSeal.objects.using(owner)
                .filter(org_id=org_id, section=section_name, last_occurred_at__lt=cutoff)
                .order_by("-seq")
                .first()
            )
            if through is None:
                continue
            with (
                context.use(org_id=org_id),
                transaction.atomic(using=owner),
                connections[owner].cursor() as cursor,
            ):
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('auditlog.seal', %s))",
                    [-1 if org_id is None else org_id],
                )
                chain = DigestChain(org_id, owner)
                purged = purge_chain(
                    cursor,
                    org_id,
                    section_name,
                    through,
                    cutoff=cutoff,
                    policy=policy,
                    chain=chain,
                    using=owner,
                )
                if purged >= 0:
                    summary.events_purged += purged
                    summary.tombstones += 1
            write_digest_files(org_id, using=using)
    if summary.events_purged or summary.partitions_dropped:
        log.info(
            "audit retention: %s events purged, %s tombstones, partitions dropped: %s",
            summary.events_purged,
            summary.tombstones,
            ", ".join(summary.partitions_dropped) or "none",
        )
    return summary
