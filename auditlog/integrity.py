"""Sealed hash chains over the audit log: sealing (off the write path) and verification.

Chains. Each organisation's log is sealed as one chain per section (`User`, `Session`,
`Conversation`, …): retention is per section, and a purge may only remove whole seals, so
a chain must never mix rows with different retention. A seal covers a batch of one chain's
events in `(occurred_at, id)` order, at most BATCH_SIZE events and never across a UTC day
(so never across a monthly partition either), and links to the previous seal's hash.

Canonical bytes of an event (version 1), computed by PostgreSQL (`audit_event_digest`, see
migration 0008): the UTF-8 text of the JSON array
  [id, org_id, occurred_at, event_type, action, section, property, before, after,
   performed_by.type, performed_by.id, performed_by.name,
   subject.type, subject.id, subject.name, change_id, ip_address, user_agent, request_id,
   metadata]
in PostgreSQL's jsonb text form: keys of objects sorted (shorter first, then bytewise) and
unique, `", "` and `": "` separators, numbers as stored, SQL NULL as null; occurred_at in UTC
as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; ip_address without a netmask. digest = SHA-256(bytes).

Seal hash = SHA-256(prev_hash ‖ "auditdesk-seal-v1|org|section|seq|count|" ‖ digest_1 ‖ … ‖
digest_n), with prev_hash 32 zero bytes for a chain's first seal, or the hash of the last
purged seal (kept in the purge receipt) once retention has removed the oldest seals.

What is sealed. Only events that can no longer change: older than the horizon
min(now, the oldest open transaction's start in this database) - margin, so a transaction
that commits late never lands inside a sealed range (the margin also absorbs clock skew
between application servers and the database).
"""

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from auditlog import catalog, context
from auditlog.models import AuditChainStatus, AuditPurge, AuditSeal
from auditlog.roles import owner_mode

log = logging.getLogger(__name__)

GENESIS = bytes(32)
SEAL_VERSION = "auditdesk-seal-v1"
BATCH_SIZE = 10_000
MANIFEST_DIGEST_BYTES = 16
MANIFEST_ENTRY = 8 + MANIFEST_DIGEST_BYTES

# A chain's position: the (occurred_at, id) of its last sealed (or purged) event.
Key = tuple[datetime, int]


def seal_hash(prev_hash: bytes, org_id: int, section: str, seq: int, digests: list[bytes]) -> bytes:
    header = f"{SEAL_VERSION}|{org_id}|{section}|{seq}|{len(digests)}|".encode()
    h = hashlib.sha256(prev_hash)
    h.update(header)
    for digest in digests:
        h.update(digest)
    return h.digest()


def manifest_of(ids: list[int], digests: list[bytes]) -> bytes:
    return b"".join(
        i.to_bytes(8, "big", signed=True) + d[:MANIFEST_DIGEST_BYTES]
        for i, d in zip(ids, digests, strict=True)
    )


def manifest_entries(manifest: bytes) -> list[tuple[int, bytes]]:
    return [
        (
            int.from_bytes(manifest[at : at + 8], "big", signed=True),
            bytes(manifest[at + 8 : at + MANIFEST_ENTRY]),
        )
        for at in range(0, len(manifest), MANIFEST_ENTRY)
    ]


# --------------------------------------------------------------------------- SQL


def _range_sql(lower: Key | None) -> str:
    after = ""
    if lower is not None:
        # The first condition lets PostgreSQL skip partitions; the row comparison is exact.
        after = "AND e.occurred_at >= %(lo_at)s AND (e.occurred_at, e.id) > (%(lo_at)s, %(lo_id)s) "
    return (
        "FROM auditlog_auditevent e "
        "WHERE e.org_id = %(org)s AND e.event_type = %(type)s AND e.section = %(section)s " + after
    )


def _params(org_id: int, section: str, lower: Key | None, **extra: Any) -> dict[str, Any]:
    params = {"org": org_id, "type": catalog.section(section).event_type, "section": section}
    if lower is not None:
        params["lo_at"], params["lo_id"] = lower
    return params | extra


def _horizon(cursor: Any, margin_seconds: float) -> datetime:
    # Sessions of other roles show xact_start only to superusers and pg_read_all_stats,
    # hence owner mode for sealing.
    cursor.execute(
        """
        SELECT least(clock_timestamp(), (
                 SELECT min(xact_start) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND backend_type = 'client backend' AND xact_start IS NOT NULL))
               - make_interval(secs => %s)
        """,
        [margin_seconds],
    )
    return cursor.fetchone()[0]


# --------------------------------------------------------------------------- sealing


@dataclass
class ChainHead:
    seq: int
    hash: bytes
    key: Key | None


def _head(org_id: int, section: str) -> ChainHead:
    last = (
        AuditSeal.objects.filter(org_id=org_id, section=section)
        .order_by("-seq")
        .values_list("seq", "hash", "last_occurred_at", "last_event_id")
        .first()
    )
    if last is None:
        last = (
            AuditPurge.objects.filter(org_id=org_id, section=section)
            .order_by("-through_seq")
            .values_list("through_seq", "last_hash", "last_occurred_at", "last_event_id")
            .first()
        )
    if last is None:
        return ChainHead(0, GENESIS, None)
    seq, digest, at, event_id = last
    return ChainHead(seq, bytes(digest), (at, event_id))


def _seal_chain(cursor: Any, org_id: int, section: str, horizon: datetime) -> list[AuditSeal]:
    head = _head(org_id, section)
    spec = catalog.section(section)
    sealed: list[AuditSeal] = []
    while True:
        cursor.execute(
            "SELECT e.occurred_at "
            + _range_sql(head.key)
            + "AND e.occurred_at < %(until)s ORDER BY e.occurred_at, e.id LIMIT 1",
            _params(org_id, section, head.key, until=horizon),
        )
        first = cursor.fetchone()
        if first is None:
            return sealed
        next_day = datetime.combine(
            first[0].astimezone(UTC).date() + timedelta(days=1), time(), UTC
        )
        cursor.execute(
            "SELECT e.occurred_at, e.id, audit_event_digest(e) "
            + _range_sql(head.key)
            + "AND e.occurred_at < %(until)s ORDER BY e.occurred_at, e.id LIMIT %(limit)s",
            _params(org_id, section, head.key, until=min(horizon, next_day), limit=BATCH_SIZE),
        )
        rows = cursor.fetchall()
        ids = [row[1] for row in rows]
        digests = [bytes(row[2]) for row in rows]
        seq = head.seq + 1
        seal = AuditSeal.objects.create(
            org_id=org_id,
            section=section,
            event_type=spec.event_type,
            seq=seq,
            first_occurred_at=rows[0][0],
            first_event_id=ids[0],
            last_occurred_at=rows[-1][0],
            last_event_id=ids[-1],
            event_count=len(rows),
            prev_hash=head.hash,
            hash=seal_hash(head.hash, org_id, section, seq, digests),
            manifest=manifest_of(ids, digests),
        )
        sealed.append(seal)
        head = ChainHead(seq, bytes(seal.hash), (rows[-1][0], ids[-1]))


def seal_org(org_id: int, *, horizon: datetime, using: str = "default") -> list[AuditSeal]:
    """Seal an organisation's events older than the horizon; returns the new seals."""
    connection = connections[using]
    with (
        context.use(org_id=org_id),
        owner_mode(using),
        transaction.atomic(using=using),
        connection.cursor() as cursor,
    ):
        # One sealer per organisation at a time; another run will pick up what this skips.
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('auditlog.seal', %s))", [org_id]
        )
        if not cursor.fetchone()[0]:
            return []
        sealed: list[AuditSeal] = []
        for section in catalog.SECTIONS:
            sealed += _seal_chain(cursor, org_id, section.name, horizon)
        return sealed


def seal(
    *, org_id: int | None = None, margin_seconds: float | None = None, using: str = "default"
) -> list[AuditSeal]:
    """Seal what can no longer change, for one organisation or all of them."""
    from accounts.models import Organization

    margin = settings.AUDIT_SEAL_MARGIN_SECONDS if margin_seconds is None else margin_seconds
    with owner_mode(using), connections[using].cursor() as cursor:
        horizon = _horizon(cursor, margin)
    org_ids = (
        [org_id]
        if org_id is not None
        else list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    )
    sealed: list[AuditSeal] = []
    for one in org_ids:
        sealed += seal_org(one, horizon=horizon, using=using)
    return sealed


# --------------------------------------------------------------------------- verification


@dataclass
class BrokenLink:
    section: str
    seal_seq: int
    problem: str  # row changed, row missing, row added, seal missing, seal changed
    event_id: int | None
    detail: str
    # Where the damage starts in (occurred_at, id) order: nothing from here on is verified.
    bound: Key

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": None if self.event_id is None else str(self.event_id),
            "seal_seq": self.seal_seq,
            "section": self.section,
            "problem": self.problem,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        what = f"event {self.event_id}" if self.event_id is not None else "the chain"
        return f"{what} ({self.section} chain, seal {self.seal_seq}): {self.problem}: {self.detail}"


@dataclass
class ChainResult:
    section: str
    sealed_events: int = 0
    verified_key: Key | None = None  # the last event verified before any break
    broken: BrokenLink | None = None


@dataclass
class Report:
    org_id: int
    verified: bool
    sealed_events: int
    verified_up_to: Key | None
    first_broken_link: BrokenLink | None
    chains: list[ChainResult] = field(default_factory=list)
    checked_at: datetime = field(default_factory=timezone.now)

    def as_dict(self) -> dict[str, Any]:
        up_to = None
        if self.verified_up_to is not None:
            at, event_id = self.verified_up_to
            up_to = {"event_id": str(event_id), "occurred_at": at.astimezone(UTC).isoformat()}
        return {
            "verified": self.verified,
            "verified_up_to": up_to,
            "sealed_events": self.sealed_events,
            "first_broken_link": (
                None if self.first_broken_link is None else self.first_broken_link.as_dict()
            ),
            "checked_at": self.checked_at.astimezone(UTC).isoformat(),
        }


def _locate(
    cursor: Any, org_id: int, section: str, lower: Key | None, seal: AuditSeal
) -> BrokenLink:
    """Name what broke inside a seal whose recomputed hash differs."""
    cursor.execute(
        "SELECT e.id, audit_event_digest(e) "
        + _range_sql(lower)
        + "AND e.occurred_at <= %(hi_at)s AND (e.occurred_at, e.id) <= (%(hi_at)s, %(hi_id)s) "
        "ORDER BY e.occurred_at, e.id",
        _params(org_id, section, lower, hi_at=seal.last_occurred_at, hi_id=seal.last_event_id),
    )
    actual = {row[0]: bytes(row[1])[:MANIFEST_DIGEST_BYTES] for row in cursor.fetchall()}
    sealed = manifest_entries(bytes(seal.manifest))
    bound = (seal.first_occurred_at, seal.first_event_id)

    def broken(problem: str, event_id: int | None, detail: str) -> BrokenLink:
        return BrokenLink(section, seal.seq, problem, event_id, detail, bound)

    for event_id, digest in sealed:
        if event_id not in actual:
            cursor.execute(
                "SELECT 1 FROM auditlog_auditevent WHERE id = %s AND org_id = %s",
                [event_id, org_id],
            )
            if cursor.fetchone():
                return broken("row changed", event_id, "its time or section changed after sealing")
            return broken("row missing", event_id, "a sealed event is no longer in the log")
        if actual[event_id] != digest:
            return broken("row changed", event_id, "its content differs from what was sealed")
    sealed_ids = {event_id for event_id, _ in sealed}
    for event_id in actual:
        if event_id not in sealed_ids:
            return broken("row added", event_id, "an event appeared inside a sealed range")
    return broken("seal changed", None, "the seal's hash does not match its events")


def verify_chain(cursor: Any, org_id: int, section: str) -> ChainResult:
    """Recompute one chain from its oldest retained seal; stop at the first break."""
    result = ChainResult(section)
    receipt = (
        AuditPurge.objects.filter(org_id=org_id, section=section).order_by("-through_seq").first()
    )
    seq, prev, lower = 0, GENESIS, None
    if receipt is not None:
        seq, prev = receipt.through_seq, bytes(receipt.last_hash)
        lower = (receipt.last_occurred_at, receipt.last_event_id)
        result.verified_key = lower
        # Nothing may remain at or before the point a purge removed everything up to.
        cursor.execute(
            "SELECT e.occurred_at, e.id FROM auditlog_auditevent e "
            "WHERE e.org_id = %(org)s AND e.event_type = %(type)s AND e.section = %(section)s "
            "AND e.occurred_at <= %(lo_at)s AND (e.occurred_at, e.id) <= (%(lo_at)s, %(lo_id)s) "
            "ORDER BY e.occurred_at, e.id LIMIT 1",
            _params(org_id, section, lower),
        )
        stray = cursor.fetchone()
        if stray is not None:
            result.verified_key = None
            result.broken = BrokenLink(
                section, seq, "row added", stray[1], "an event appeared in the purged range", stray
            )
            return result
    for seal in AuditSeal.objects.filter(org_id=org_id, section=section).order_by("seq"):
        seq += 1
        bound = (seal.first_occurred_at, seal.first_event_id)
        if seal.seq != seq:
            result.broken = BrokenLink(
                section, seq, "seal missing", None, f"the chain jumps to seal {seal.seq}", bound
            )
            return result
        if bytes(seal.prev_hash) != prev:
            result.broken = BrokenLink(
                section, seq, "seal changed", None, "it does not link to the previous seal", bound
            )
            return result
        header = f"{SEAL_VERSION}|{org_id}|{section}|{seq}|{seal.event_count}|".encode()
        cursor.execute(
            "SELECT count(*), sha256(%(prefix)s || coalesce(string_agg(audit_event_digest(e), "
            "''::bytea ORDER BY e.occurred_at, e.id), ''::bytea)) "
            + _range_sql(lower)
            + "AND e.occurred_at <= %(hi_at)s AND (e.occurred_at, e.id) <= (%(hi_at)s, %(hi_id)s)",
            _params(
                org_id,
                section,
                lower,
                prefix=prev + header,
                hi_at=seal.last_occurred_at,
                hi_id=seal.last_event_id,
            ),
        )
        count, digest = cursor.fetchone()
        if count != seal.event_count or bytes(digest) != bytes(seal.hash):
            result.broken = _locate(cursor, org_id, section, lower, seal)
            return result
        result.sealed_events += seal.event_count
        prev, lower = bytes(seal.hash), (seal.last_occurred_at, seal.last_event_id)
        result.verified_key = lower
    return result


def verify(org_id: int, *, using: str = "default", save: bool = True) -> Report:
    """Recompute an organisation's chains and say up to which event the whole log holds.

    "Verified up to E" means every event of the organisation at or before E (in
    `(occurred_at, id)` order, in every chain) is sealed and matches its seal.
    """
    connection = connections[using]
    chains: list[ChainResult] = []
    bound: Key | None = None  # the earliest event that is not verified, in any chain
    with context.use(org_id=org_id), connection.cursor() as cursor:
        for section in catalog.SECTIONS:
            chain = verify_chain(cursor, org_id, section.name)
            chains.append(chain)
            candidates = [chain.broken.bound] if chain.broken else []
            cursor.execute(
                "SELECT e.occurred_at, e.id "
                + _range_sql(chain.verified_key)
                + "ORDER BY e.occurred_at, e.id LIMIT 1",
                _params(org_id, section.name, chain.verified_key),
            )
            if (unverified := cursor.fetchone()) is not None:
                candidates.append(tuple(unverified))
            for candidate in candidates:
                bound = candidate if bound is None else min(bound, candidate)
        if bound is None:
            keys = [chain.verified_key for chain in chains if chain.verified_key is not None]
            up_to = max(keys, default=None)
        else:
            cursor.execute(
                "SELECT occurred_at, id FROM auditlog_auditevent "
                "WHERE org_id = %s AND occurred_at <= %s AND (occurred_at, id) < (%s, %s) "
                "ORDER BY occurred_at DESC, id DESC LIMIT 1",
                [org_id, bound[0], bound[0], bound[1]],
            )
            found = cursor.fetchone()
            up_to = None if found is None else tuple(found)
    breaks = [chain.broken for chain in chains if chain.broken is not None]
    report = Report(
        org_id=org_id,
        verified=not breaks,
        sealed_events=sum(chain.sealed_events for chain in chains),
        verified_up_to=up_to,
        first_broken_link=min(breaks, key=lambda b: b.bound, default=None),
        chains=chains,
    )
    if save:
        _save_status(report, using)
    return report


def _save_status(report: Report, using: str) -> None:
    up_to = report.verified_up_to
    AuditChainStatus.objects.using(using).update_or_create(
        org_id=report.org_id,
        defaults={
            "checked_at": report.checked_at,
            "verified": report.verified,
            "sealed_events": report.sealed_events,
            "verified_up_to_event_id": None if up_to is None else up_to[1],
            "verified_up_to_at": None if up_to is None else up_to[0],
            "first_broken_link": (
                None if report.first_broken_link is None else report.first_broken_link.as_dict()
            ),
        },
    )


def status(org_id: int) -> AuditChainStatus | None:
    """The latest verification result (for the viewer's badge; no recomputation)."""
    return AuditChainStatus.objects.filter(org_id=org_id).first()
