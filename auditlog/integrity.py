"""Sealed hash chains over the audit log: sealing (off the write path), signed digests and
verification (docs/trust.md is the contract).

Chains. Each organisation's log is sealed as one chain per section (`User`, `Session`, …);
rows of no organisation form the platform chain (org None). Retention is per section, and a
purge may only remove whole seals, so a chain never mixes rows with different retention. A
seal covers a batch of one chain's events in `(occurred_at, id)` order, at most BATCH_SIZE
events and never across a UTC day (so never across a monthly partition either), and links
to the previous seal's hash.

Version 2 (this release): an event's digest is SHA-256 of its NDJSON export line
(`audit_event_digest_v2`, migration 0012), the bytes an auditor's export holds, and

  head = SHA-256(prev ‖ "auditdesk-seal-v2|org|section|seq|count|" ‖ digest_1 ‖ … ‖ digest_n)

with org "" for the platform chain. Sealing checks every row's MAC (auditlog/mac.py) and
lists the rows without a valid one as forged; each seal yields a digest signed with a key
the database never holds (auditlog/digests.py). Version-1 seals (release 1: SQL canonical
form, `audit_event_digest`) still verify in the database.

What is sealed. Only events that can no longer change: older than the horizon
min(now, the oldest open transaction's start in this database) - margin, so a transaction
that commits late never lands inside a sealed range (the margin also absorbs clock skew
between application servers and the database).

Verification is incremental: each chain's last verified seal is a checkpoint (owner-written,
in AuditChainStatus), so the integrity endpoint and the badge recompute only newer seals;
`verify_audit_chain` recomputes everything from the oldest retained seal and checks it
against the signed digest files.
"""

import hashlib
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring as _encode_string
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from auditlog import catalog, digests, mac
from auditlog.models import (
    AuditChainStatus,
    AuditDigest,
    AuditPurge,
    AuditSeal,
    AuditSealRun,
)
from auditlog.roles import owner_db, owner_mode
from core import context

log = logging.getLogger(__name__)

GENESIS = bytes(32)
SEAL_VERSIONS = {1: "auditdesk-seal-v1", 2: "auditdesk-seal-v2"}
EVENT_DIGEST_SQL = {1: "audit_event_digest(e)", 2: "audit_event_digest_v2(e)"}
CURRENT_VERSION = 2
BATCH_SIZE = 10_000
MANIFEST_DIGEST_BYTES = 16
MANIFEST_ENTRY = 8 + MANIFEST_DIGEST_BYTES

# A chain's position: the (occurred_at, id) of its last sealed (or purged) event.
Key = tuple[datetime, int]


def _org_text(org_id: int | None) -> str:
    return "" if org_id is None else str(org_id)


def seal_header(version: int, org_id: int | None, section: str, seq: int, count: int) -> bytes:
    if version == 1:
        return f"{SEAL_VERSIONS[1]}|{org_id}|{section}|{seq}|{count}|".encode()
    return f"{SEAL_VERSIONS[version]}|{_org_text(org_id)}|{section}|{seq}|{count}|".encode()


def seal_hash(
    prev_hash: bytes,
    org_id: int | None,
    section: str,
    seq: int,
    digests: list[bytes],
    version: int = CURRENT_VERSION,
) -> bytes:
    header = seal_header(version, org_id, section, seq, len(digests))
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


def _org_sql(org_id: int | None) -> str:
    return "e.org_id IS NULL" if org_id is None else "e.org_id = %(org)s"


def _range_sql(lower: Key | None, org_id: int | None = 0) -> str:
    after = ""
    if lower is not None:
        # The first condition lets PostgreSQL skip partitions; the row comparison is exact.
        after = "AND e.occurred_at >= %(lo_at)s AND (e.occurred_at, e.id) > (%(lo_at)s, %(lo_id)s) "
    return (
        "FROM auditlog_auditevent e "
        f"WHERE {_org_sql(org_id)} AND e.event_type = %(type)s AND e.section = %(section)s " + after
    )


def _params(org_id: int | None, section: str, lower: Key | None, **extra: Any) -> dict[str, Any]:
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


def _seals(org_id: int | None, section: str, using: str) -> Any:
    return _seals_of(org_id, using).filter(section=section)


def _seals_of(org_id: int | None, using: str) -> Any:
    return AuditSeal.objects.using(using).filter(org_id=org_id)


def _purges(org_id: int | None, section: str, using: str) -> Any:
    return AuditPurge.objects.using(using).filter(org_id=org_id, section=section)


def _head(org_id: int | None, section: str, using: str) -> ChainHead:
    last = (
        _seals(org_id, section, using)
        .order_by("-seq")
        .values_list("seq", "hash", "last_occurred_at", "last_event_id")
        .first()
    )
    if last is None:
        last = (
            _purges(org_id, section, using)
            .order_by("-through_seq")
            .values_list("through_seq", "last_hash", "last_occurred_at", "last_event_id")
            .first()
        )
    if last is None:
        return ChainHead(0, GENESIS, None)
    seq, digest, at, event_id = last
    return ChainHead(seq, bytes(digest), (at, event_id))


class DigestChain:
    """An organisation's (or the platform's) chain of signed digests, appended to in order.

    `buffered`: documents are stored by `flush()` (one INSERT for many), not one by one."""

    def __init__(self, org_id: int | None, using: str, *, buffered: bool = False) -> None:
        self.org_id = org_id
        self.using = using
        self.buffered = buffered
        last = (
            AuditDigest.objects.using(using)
            .filter(org_id=org_id)
            .order_by("-seq")
            .values_list("seq", "document")
            .first()
        )
        self.seq = 0 if last is None else last[0]
        self.previous_hash = None if last is None else digests.document_hash(last[1])
        self.written: list[dict[str, Any]] = []
        # The canonical bytes of each document written (its file's content, less the newline).
        self.encoded: list[bytes] = []
        self._pending: list[AuditDigest] = []

    def append(self, section: str, seal_seq: int, **fields: Any) -> dict[str, Any]:
        document = digests.sign(
            {
                "version": digests.VERSION,
                "id": self.seq + 1,
                "org_id": self.org_id,
                "section": section,
                "seal_seq": seal_seq,
                **fields,
                "previous_digest_hash": self.previous_hash,
                "signed_at": digests.timestamp(timezone.now()),
            }
        )
        encoded = digests.canonical(document)
        row = AuditDigest(
            org_id=self.org_id,
            seq=document["id"],
            section=section,
            seal_seq=seal_seq,
            document=document,
        )
        if self.buffered:
            self._pending.append(row)
        else:
            row.save(using=self.using, force_insert=True)
        self.seq, self.previous_hash = document["id"], hashlib.sha256(encoded).hexdigest()
        self.written.append(document)
        self.encoded.append(encoded)
        return document

    def flush(self) -> None:
        if self._pending:
            _copy_in(self.using, AuditDigest, self._pending)
            self._pending = []


def _copy_in(using: str, model: type, objects: list) -> None:
    """Insert unsaved model instances with one binary COPY (seals and digests by the
    thousand: Django's bulk_create quotes every value client-side, several times slower).
    Their primary keys stay unset."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # The registry knows "varchar", not "varchar(64)".
    types = [f.db_type(connections[using]).partition("(")[0] for f in fields]
    columns = ", ".join(connections[using].ops.quote_name(f.column) for f in fields)
    json_fields = {n for n, f in enumerate(fields) if f.get_internal_type() == "JSONField"}
    statement = (
        f"COPY {connections[using].ops.quote_name(model._meta.db_table)} ({columns}) "
        "FROM STDIN (FORMAT BINARY)"
    )
    with connections[using].cursor() as cursor, cursor.cursor.copy(statement) as copy:
        copy.set_types(types)
        for instance in objects:
            values = [getattr(instance, f.attname) for f in fields]
            for n in json_fields:
                values[n] = Jsonb(values[n])
            copy.write_row(values)


def seal_digest_fields(seal: AuditSeal) -> dict[str, Any]:
    return {
        "first_event_id": str(seal.first_event_id),
        "last_event_id": str(seal.last_event_id),
        "first_occurred_at": digests.timestamp(seal.first_occurred_at),
        "last_occurred_at": digests.timestamp(seal.last_occurred_at),
        "event_count": seal.event_count,
        "previous_head_hash": bytes(seal.prev_hash).hex(),
        "head_hash": bytes(seal.hash).hex(),
        "forged_event_ids": list(seal.forged_event_ids),
        "purged": None,
    }


# What sealing reads per event: its section, id, time (UTC text, `YYYY-MM-DDTHH:MM:SS.ffffff`:
# its first ten characters are the UTC day a seal may not cross), MAC, then its columns as
# text, in the order of its export line (JSON columns as jsonb writes them).
_SEAL_COLUMNS = (
    f"e.section, e.id, {mac.UTC_TEXT_SQL}, e.mac, e.event_type, e.action, e.property, "
    "e.before::text, e.after::text, e.actor_type, e.actor_id, e.actor_name, e.subject_type, "
    "e.subject_id, e.subject_name, e.change_id::text, host(e.ip_address), e.user_agent, "
    "e.request_id, e.metadata::text"
)
# An event's export line (audit_event_line, migration 0012) as PostgreSQL's json_build_object
# writes it: `"key" : value`, text escaped as escape_json() does (the same as Python's
# encode_basestring: \" \\ \b \f \n \r \t, other control characters \u00xx), jsonb as its
# text, NULL as null. Sealing builds it here from the columns rather than have PostgreSQL
# build it (measured: 10 µs a row there, the largest share of sealing), and a test holds the
# two equal byte for byte on every kind of value.
_LINE = (
    '{"id" : "%s", "occurred_at" : "%s+00:00", "event_type" : %s, "action" : %s, '
    '"section" : %s, "property" : %s, "before" : %s, "after" : %s, '
    '"performed_by" : {"type" : %s, "id" : %s, "name" : %s}, '
    '"subject" : {"type" : %s, "id" : %s, "name" : %s}, "change_id" : %s, '
    '"ip_address" : %s, "user_agent" : %s, "request_id" : %s, "metadata" : %s}'
)


_JSON_TEXTS: dict[str | None, str] = {None: "null"}


def _json_text(value: str | None) -> str:
    """A text value as json_build_object writes it (remembered: values repeat)."""
    text = _JSON_TEXTS.get(value)
    if text is None:
        text = _encode_string(value)
        if len(value) <= 200 and len(_JSON_TEXTS) < 100_000:
            _JSON_TEXTS[value] = text
    return text


def read_event(org_text: str | None, section: str, row: tuple) -> tuple[bytes, bytes]:
    """An event's digest (SHA-256 of its export line) and its MAC's input (mac.canonical()),
    from a _SEAL_COLUMNS row without its section; `org_text` and `section` are the chain's
    (its organisation's id as text, None for the platform)."""
    (
        event_id,
        at,
        _tag,
        event_type,
        action,
        prop,
        before,
        after,
        actor_type,
        actor_id,
        actor_name,
        subject_type,
        subject_id,
        subject_name,
        change_id,
        ip,
        user_agent,
        request_id,
        metadata,
    ) = row
    line = _LINE % (
        event_id,
        at,
        _json_text(event_type),
        _json_text(action),
        _encode_string(section),
        _json_text(prop),
        before or "null",
        after or "null",
        _json_text(actor_type),
        _json_text(actor_id),
        _json_text(actor_name),
        _json_text(subject_type),
        _json_text(subject_id),
        _json_text(subject_name),
        "null" if change_id is None else f'"{change_id}"',
        "null" if ip is None else f'"{ip}"',
        _json_text(user_agent),
        _json_text(request_id),
        metadata or "null",
    )
    # The MAC's columns in storage.COLUMNS order: the row's from `property` on are in it.
    values = [org_text, at, event_type, action, section, *row[5:]]
    if ip is not None and ":" in ip:
        values[mac.IP] = mac.ip_text(ip)  # IPv6: the MAC has Python's spelling
    canonical = mac.canonical_texts(values)
    return hashlib.sha256(line.encode()).digest(), canonical


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Rows fetched per round trip from the server-side cursor.
_FETCH = 5_000
# Seals (and their digests) stored per INSERT.
_FLUSH = 1_000


class _ChainSealer:
    """Seals one chain's events, given in (occurred_at, id) order from its head up to the
    horizon: a seal per UTC day (at most BATCH_SIZE events), each with its signed digest."""

    def __init__(self, cursor: Any, org_id: int | None, section: str, chain: DigestChain) -> None:
        self.org_id, self.section, self.chain = org_id, section, chain
        self.org_text = None if org_id is None else str(org_id)
        self.head = head = _head(org_id, section, chain.using)
        self.event_type = catalog.section(section).event_type
        self.sealed: list[AuditSeal] = []
        self.pending: list[AuditSeal] = []
        self.batch: list[tuple] = []
        self.forged: list[str] = []
        self.day: str | None = None
        # MACs of the rows at the last sealed moment: a row's MAC covers its time, so an
        # exact copy of a genuine row (a replay) has the same time and is found next to it.
        self.carry_at: str | None = None
        self.carry: set[bytes] = set()
        if head.key is not None:
            cursor.execute(
                "SELECT e.mac FROM auditlog_auditevent e "
                f"WHERE {_org_sql(org_id)} AND e.event_type = %(type)s "
                "AND e.section = %(section)s AND e.occurred_at = %(at)s AND e.id <= %(id)s",
                _params(org_id, section, None, at=head.key[0], id=head.key[1]),
            )
            self.carry_at = mac.utc_text(head.key[0])
            self.carry = {bytes(row[0]) for row in cursor.fetchall() if row[0] is not None}

    def add(self, row: tuple) -> None:
        """The next event in order: a _SEAL_COLUMNS row without its section."""
        event_id, at, tag = row[0], row[1], row[2]
        if self.batch and (at[:10] != self.day or len(self.batch) >= BATCH_SIZE):
            self.close()
        if not self.batch:
            self.day = at[:10]
        digest, canonical = read_event(self.org_text, self.section, row)
        # A row the application did not write (no valid MAC) is sealed all the same, so the
        # chain goes on, but named in the seal and its signed digest: verification reports it.
        if tag is not None:
            tag = bytes(tag)
        if at != self.carry_at:
            self.carry_at, self.carry = at, set()
        if tag is None or tag in self.carry or not mac.valid_canonical(canonical, tag):
            self.forged.append(str(event_id))
        else:
            self.carry.add(tag)
        self.batch.append((event_id, at, digest))

    def close(self) -> None:
        rows, forged = self.batch, self.forged
        self.batch, self.forged = [], []
        if not rows:
            return
        ids = [row[0] for row in rows]
        event_digests = [row[2] for row in rows]
        if forged:
            log.error(
                "audit chain %s/%s: %d events without a valid MAC (forged): %s",
                _org_text(self.org_id) or "platform",
                self.section,
                len(forged),
                ", ".join(forged[:10]),
            )
        head = self.head
        seq = head.seq + 1
        seal = AuditSeal(
            org_id=self.org_id,
            section=self.section,
            event_type=self.event_type,
            seq=seq,
            version=CURRENT_VERSION,
            first_occurred_at=_utc(rows[0][1]),
            first_event_id=ids[0],
            last_occurred_at=(last_at := _utc(rows[-1][1])),
            last_event_id=ids[-1],
            event_count=len(rows),
            prev_hash=head.hash,
            hash=seal_hash(head.hash, self.org_id, self.section, seq, event_digests),
            manifest=manifest_of(ids, event_digests),
            forged_event_ids=forged,
        )
        self.chain.append(self.section, seq, **seal_digest_fields(seal))
        self.pending.append(seal)
        self.sealed.append(seal)
        self.head = ChainHead(seq, bytes(seal.hash), (last_at, ids[-1]))
        if len(self.pending) >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        # Seals before their digests, as one by one: a digest never names a missing seal.
        if self.pending:
            _copy_in(self.chain.using, AuditSeal, self.pending)
            self.pending = []
        self.chain.flush()


def _seal_type(
    cursor: Any,
    org_id: int | None,
    event_type: str,
    horizon: datetime,
    chain: DigestChain,
) -> list[AuditSeal]:
    """Seal the chains of one event type's sections in one ordered pass over its events
    (the index is by type: a pass per section would read the type's rows once per section)."""
    sealers = {
        section.name: _ChainSealer(cursor, org_id, section.name, chain)
        for section in catalog.sections()
        if section.event_type == event_type
    }
    params: dict[str, Any] = {"org": org_id, "type": event_type, "until": horizon}
    conditions = []
    for n, (name, sealer) in enumerate(sealers.items()):
        params[f"s{n}"] = name
        if sealer.head.key is None:
            conditions.append(f"e.section = %(s{n})s")
        else:
            params[f"a{n}"], params[f"i{n}"] = sealer.head.key
            conditions.append(
                f"(e.section = %(s{n})s AND (e.occurred_at, e.id) > (%(a{n})s, %(i{n})s))"
            )
    lower = ""
    if all(sealer.head.key is not None for sealer in sealers.values()):
        # Lets PostgreSQL start the index scan (and skip partitions) at the oldest head.
        params["lo_at"] = min(sealer.head.key[0] for sealer in sealers.values())
        lower = "AND e.occurred_at >= %(lo_at)s "
    query = (
        f"SELECT {_SEAL_COLUMNS} FROM auditlog_auditevent e "
        f"WHERE {_org_sql(org_id)} AND e.event_type = %(type)s {lower}"
        f"AND e.occurred_at < %(until)s AND ({' OR '.join(conditions)}) "
        "ORDER BY e.occurred_at, e.id"
    )
    # A raw psycopg cursor (server-side: memory stays flat); row-level security's
    # organisation is set here, not by Django.
    cursor.db.use_audit_org(org_id, force=True)
    with cursor.db.connection.cursor(name="audit_seal") as rows:
        rows.itersize = _FETCH
        rows.execute(query, params)
        for row in rows:
            sealers[row[0]].add(row[1:])
    sealed: list[AuditSeal] = []
    for sealer in sealers.values():
        sealer.close()
        sealer.flush()
        sealed += sealer.sealed
    return sealed


def seal_org(org_id: int | None, *, horizon: datetime, using: str = "default") -> list[AuditSeal]:
    """Seal an organisation's (None: the platform's) events older than the horizon."""
    digests.private_key()  # no key, no seals: every seal must have its signed digest
    owner = owner_db(using)
    connection = connections[owner]
    with (
        context.use(org_id=org_id),
        owner_mode(using),
        transaction.atomic(using=owner),
        connection.cursor() as cursor,
    ):
        # One sealer per organisation at a time; another run will pick up what this skips.
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('auditlog.seal', %s))",
            [-1 if org_id is None else org_id],
        )
        if not cursor.fetchone()[0]:
            return []
        chain = DigestChain(org_id, owner, buffered=True)
        sealed: list[AuditSeal] = []
        for event_type in dict.fromkeys(section.event_type for section in catalog.sections()):
            sealed += _seal_type(cursor, org_id, event_type, horizon, chain)
        # Everything before the horizon is sealed now (an earlier run may have reached
        # further: a long transaction holds the horizon back).
        run = AuditSealRun.objects.using(owner).filter(org_id=org_id).first()
        if run is None:
            AuditSealRun.objects.using(owner).create(org_id=org_id, sealed_through=horizon)
        elif run.sealed_through < horizon:
            run.sealed_through = horizon
            run.save(using=owner, update_fields=["sealed_through"])
    # After commit: the files outside the database (a failure here is repaired next run).
    write_digest_files(org_id, using=using, chain=chain)
    return sealed


def write_digest_files(
    org_id: int | None, *, using: str = "default", chain: DigestChain | None = None
) -> int:
    """Write the chain's stored digests that no file holds yet, each run of consecutive ones
    as one file; returns how many. `chain`: the digests a run just committed (written from
    memory; the stored copies are read only for what an earlier run failed to write)."""
    covered = 0  # every id up to here is in a file
    holes: list[tuple[int, int]] = []
    for first, last in digests.file_ranges(org_id):
        if first > covered + 1:
            holes.append((covered + 1, first - 1))
        covered = max(covered, last)
    fresh = {}
    if chain is not None:
        fresh = {
            document["id"]: (document, encoded)
            for document, encoded in zip(chain.written, chain.encoded, strict=True)
        }
    if fresh and not holes and min(fresh) == covered + 1:
        missing = sorted(fresh)  # the usual case: the run's digests follow the files
    else:
        wanted = Q(seq__gt=covered)
        for low, high in holes:
            wanted |= Q(seq__gte=low, seq__lte=high)
        missing = sorted(
            AuditDigest.objects.using(owner_db(using))
            .filter(wanted, org_id=org_id)
            .values_list("seq", flat=True)
        )
    written = 0
    for run in _runs(missing):
        documents = [fresh[seq] for seq in run if seq in fresh]
        if len(documents) < len(run):
            documents = [
                (document, digests.canonical(document))
                for document in AuditDigest.objects.using(owner_db(using))
                .filter(org_id=org_id, seq__gte=run[0], seq__lte=run[-1])
                .order_by("seq")
                .values_list("document", flat=True)
            ]
        try:
            digests.write_file([d for d, _ in documents], [e for _, e in documents])
        except OSError:
            log.exception("could not write the digest files of %s", digests.chain_dir(org_id))
            break
        written += len(documents)
    return written


def _runs(numbers: list[int]) -> list[list[int]]:
    """Sorted numbers as runs of consecutive ones."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def seal(
    *,
    org_id: int | None = None,
    margin_seconds: float | None = None,
    using: str = "default",
    platform: bool | None = None,
    workers: int | None = None,
    progress: Callable[[int | None, list["Sealed"]], None] | None = None,
) -> list["Sealed"]:
    """Seal what can no longer change, for one organisation or all of them (and the platform
    chain: always with all of them, or alone with `platform=True`).

    `workers` (default settings.AUDIT_SEAL_WORKERS) organisations are sealed at a time, each
    in a process (or a thread where forking is not allowed) with its own database
    connection. `progress(org_id, seals)` is called as each organisation is done."""
    from core.tenancy import organization_model

    margin = settings.AUDIT_SEAL_MARGIN_SECONDS if margin_seconds is None else margin_seconds
    owner = owner_db(using)
    with owner_mode(using), connections[owner].cursor() as cursor:
        horizon = _horizon(cursor, margin)
    if platform:
        org_ids: list[int | None] = []
    elif org_id is not None:
        org_ids = [org_id]
    else:
        org_ids = list(
            organization_model().objects.using(owner).order_by("pk").values_list("pk", flat=True)
        )
    if platform or (platform is None and org_id is None):
        org_ids.append(None)
    workers = settings.AUDIT_SEAL_WORKERS if workers is None else workers
    sealed: list[Sealed] = []

    def done(one: int | None, made: list[Sealed]) -> None:
        sealed.extend(made)
        if progress is not None:
            progress(one, made)

    if workers <= 1 or len(org_ids) <= 1:
        for one in org_ids:
            done(one, _seal_job(one, horizon, using, close=False))
        return sealed
    if multiprocessing.current_process().daemon or any(
        connection.in_atomic_block for connection in connections.all(initialized_only=True)
    ):
        # A Celery worker's process may not fork, nor may a caller's open transaction be
        # shared: threads (each with its own connection) still overlap PostgreSQL's work on
        # one organisation with Python's on another.
        pool: Executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit-seal")
    else:
        # Processes: checking every event's MAC and digest is Python's work, which threads
        # would serialise. Forked children must not share this process's connections.
        connections.close_all()
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork")
        )
    with pool:
        jobs = [pool.submit(_seal_job, one, horizon, using) for one in org_ids]
        for one, job in zip(org_ids, jobs, strict=True):
            done(one, job.result())
    return sealed


@dataclass(frozen=True)
class Sealed:
    """What sealing made: one seal (and its signed digest)."""

    org_id: int | None
    section: str
    seq: int
    event_count: int
    forged_event_ids: tuple[str, ...]


def _seal_job(
    org_id: int | None, horizon: datetime, using: str, *, close: bool = True
) -> list[Sealed]:
    """seal_org in a worker (a thread or a process): its summary, then its connections
    closed."""
    try:
        return [
            Sealed(s.org_id, s.section, s.seq, s.event_count, tuple(s.forged_event_ids))
            for s in seal_org(org_id, horizon=horizon, using=using)
        ]
    finally:
        if close:
            connections.close_all()


# --------------------------------------------------------------------------- verification

# The key of the digest chain's checkpoint among the chains' (no section has this name).
DIGESTS_POINT = "(digests)"

PROBLEMS = (
    "row changed",
    "row missing",
    "row added",
    "seal missing",
    "seal changed",
    "forged event",
    "digest invalid",
)


@dataclass
class BrokenLink:
    section: str
    seal_seq: int
    problem: str  # one of PROBLEMS
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
    checkpoint: dict[str, Any] | None = None


@dataclass
class Report:
    org_id: int | None
    verified: bool
    sealed_events: int
    verified_up_to: Key | None
    first_broken_link: BrokenLink | None
    chains: list[ChainResult] = field(default_factory=list)
    checked_at: datetime = field(default_factory=timezone.now)
    digests_checked: int = 0

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
    cursor: Any, org_id: int | None, section: str, lower: Key | None, seal: AuditSeal
) -> BrokenLink:
    """Name what broke inside a seal whose recomputed hash differs."""
    cursor.execute(
        f"SELECT e.id, {EVENT_DIGEST_SQL[seal.version]} "
        + _range_sql(lower, org_id)
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
                "SELECT 1 FROM auditlog_auditevent e WHERE e.id = %(id)s AND " + _org_sql(org_id),
                {"id": event_id, "org": org_id},
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


@dataclass
class SignedDigests:
    """The signed digests a verification checks seals against, by (section, seal_seq)."""

    heads: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, Any]] = field(default_factory=dict)  # newest per section
    problem: str | None = None
    count: int = 0
    # The last digest checked: where the next incremental verification continues.
    point: dict[str, Any] | None = None


def load_signed_digests(
    org_id: int | None,
    *,
    source: str,
    using: str = "default",
    after: dict[str, Any] | None = None,
) -> SignedDigests:
    """Check the chain of digests (signatures, ids 1..n, previous_digest_hash) and index it.

    source "files": AUDIT_DIGEST_DIR (outside the database; digests stored but missing as
    files are written first); "database": the stored copies, checked just the same.
    `after` ({"seq", "hash"} of a digest already checked): only the digests after it.
    """
    result = SignedDigests(point=after)
    first = 1 if after is None else int(after["seq"]) + 1
    keys = digests.public_keys()
    if source == "files":
        write_digest_files(org_id, using=using)
        try:
            documents = digests.read_files(org_id)
        except ValueError as exc:
            result.problem = str(exc)
            return result
        documents = [document for document in documents if document.get("id", 0) >= first]
    else:
        documents = list(
            AuditDigest.objects.using(using)
            .filter(org_id=org_id, seq__gte=first)
            .order_by("seq")
            .values_list("document", flat=True)
        )
    previous_hash = None if after is None else after["hash"]
    for expected, document in enumerate(documents, start=first):
        where = f"signed digest {document.get('id')}"
        if document.get("id") != expected:
            result.problem = f"{where}: digest {expected} is missing from the digest chain"
            return result
        if document.get("org_id") != org_id:
            result.problem = f"{where}: it belongs to organisation {document.get('org_id')}"
            return result
        if (problem := digests.signature_problem(document, keys)) is not None:
            result.problem = f"{where}: {problem}"
            return result
        if document.get("previous_digest_hash") != previous_hash:
            result.problem = f"{where}: it does not link to digest {expected - 1}"
            return result
        previous_hash = digests.document_hash(document)
        result.point = {"seq": expected, "hash": previous_hash}
        section = document["section"]
        if document.get("purged"):
            result.tombstones[section] = document
        else:
            result.heads[(section, document["seal_seq"])] = document
    result.count = len(documents)
    return result


def _checkpoint(seq: int, prev: bytes, lower: Key | None, events: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "hash": prev.hex(),
        "at": None if lower is None else lower[0].astimezone(UTC).isoformat(),
        "id": None if lower is None else lower[1],
        "events": events,
    }


def _from_checkpoint(point: dict[str, Any]) -> tuple[int, bytes, Key | None, int]:
    lower = None
    if point.get("id") is not None:
        lower = (datetime.fromisoformat(point["at"]), int(point["id"]))
    return int(point["seq"]), bytes.fromhex(point["hash"]), lower, int(point.get("events", 0))


_LOAD = object()  # verify_chain: load it


def _starts_at_checkpoint(start: dict[str, Any] | None, receipt: AuditPurge | None) -> bool:
    return start is not None and (receipt is None or receipt.through_seq <= int(start["seq"]))


def _chain_start_seq(start: dict[str, Any] | None, receipt: AuditPurge | None) -> int:
    """The last seal number verify_chain takes as given (its checkpoint's, or the purge's)."""
    if _starts_at_checkpoint(start, receipt):
        return int(start["seq"])
    return 0 if receipt is None else receipt.through_seq


def verify_chain(
    cursor: Any,
    org_id: int | None,
    section: str,
    *,
    using: str = "default",
    start: dict[str, Any] | None = None,
    signed: SignedDigests | None = None,
    stop_at: int | None = None,
    receipt: Any = _LOAD,
    seals: list[AuditSeal] | None = None,
) -> ChainResult:
    """Recompute one chain from its checkpoint (or oldest retained seal); stop at the first
    break. With `signed`, every seal must also equal its signed digest. `receipt` (the
    chain's last purge receipt, or None) and `seals` (those after chain_start's seq) may
    come preloaded, as verify() loads them for every chain at once."""
    result = ChainResult(section)
    if receipt is _LOAD:
        receipt = _purges(org_id, section, using).order_by("-through_seq").first()
    seq, prev, lower, events = 0, GENESIS, None, 0
    if _starts_at_checkpoint(start, receipt):
        seq, prev, lower, events = _from_checkpoint(start)
        result.verified_key = lower
    elif receipt is not None:
        seq, prev = receipt.through_seq, bytes(receipt.last_hash)
        lower = (receipt.last_occurred_at, receipt.last_event_id)
        result.verified_key = lower
        # Nothing may remain at or before the point a purge removed everything up to.
        cursor.execute(
            "SELECT e.occurred_at, e.id FROM auditlog_auditevent e "
            f"WHERE {_org_sql(org_id)} AND e.event_type = %(type)s AND e.section = %(section)s "
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
        if signed is not None:
            tombstone = signed.tombstones.get(section)
            if tombstone is None or tombstone["purged"]["through_seal_seq"] < receipt.through_seq:
                result.broken = BrokenLink(
                    section,
                    receipt.through_seq,
                    "row missing",
                    None,
                    f"seals up to {receipt.through_seq} are gone without a signed tombstone",
                    lower,
                )
                return result
    if seals is None:
        seals = _seals(org_id, section, using).filter(seq__gt=seq)
        if stop_at is not None:
            seals = seals.filter(seq__lte=stop_at)
        seals = seals.order_by("seq")
    for seal in seals:
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
        header = seal_header(seal.version, org_id, section, seq, seal.event_count)
        cursor.execute(
            f"SELECT count(*), sha256(%(prefix)s || coalesce(string_agg("
            f"{EVENT_DIGEST_SQL[seal.version]}, ''::bytea ORDER BY e.occurred_at, e.id), "
            "''::bytea)) "
            + _range_sql(lower, org_id)
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
        if signed is not None and seal.version >= 2:
            document = signed.heads.get((section, seal.seq))
            if document is None or document["head_hash"] != bytes(seal.hash).hex():
                what = (
                    "has no signed digest"
                    if document is None
                    else (f"differs from signed digest {document['id']}")
                )
                result.broken = BrokenLink(
                    section,
                    seq,
                    "seal changed",
                    None,
                    f"the seal of events {seal.first_event_id}..{seal.last_event_id} {what}: "
                    "its events or the seal were rewritten",
                    bound,
                )
                return result
        if seal.forged_event_ids:
            forged = int(seal.forged_event_ids[0])
            result.broken = BrokenLink(
                section,
                seq,
                "forged event",
                forged,
                f"{len(seal.forged_event_ids)} event(s) of this seal were not written by the "
                "application (no valid MAC)",
                bound,
            )
            return result
        events += seal.event_count
        prev, lower = bytes(seal.hash), (seal.last_occurred_at, seal.last_event_id)
        result.verified_key = lower
    if signed is not None and stop_at is None:
        # A signed seal the database no longer has: the newest seals and events were removed.
        newer = [
            document
            for (name, seal_seq), document in signed.heads.items()
            if name == section and seal_seq > seq
        ]
        if newer and result.broken is None:
            first = min(newer, key=lambda document: document["seal_seq"])
            result.broken = BrokenLink(
                section,
                first["seal_seq"],
                "seal missing",
                int(first["first_event_id"]),
                f"signed digest {first['id']} covers seal {first['seal_seq']} (events "
                f"{first['first_event_id']}..{first['last_event_id']}), which is gone",
                lower or (datetime.min.replace(tzinfo=UTC), 0),
            )
    result.sealed_events = events
    result.checkpoint = _checkpoint(seq, prev, lower, events)
    return result


def _check_tail(
    cursor: Any, org_id: int | None, section: str, lower: Key | None
) -> BrokenLink | None:
    """Unsealed events must carry a valid MAC too (the newest events, before sealing)."""
    cursor.execute(
        "SELECT e.id, e.occurred_at, e.mac, "
        + mac.SELECT_COLUMNS
        + " "
        + _range_sql(lower, org_id)
        + "ORDER BY e.occurred_at, e.id",
        _params(org_id, section, lower),
    )
    for row in cursor.fetchall():
        if not mac.valid(row[3:], row[2]):
            return BrokenLink(
                section,
                0,
                "forged event",
                row[0],
                "an unsealed event was not written by the application (no valid MAC)",
                (row[1], row[0]),
            )
    return None


def verify(
    org_id: int | None,
    *,
    using: str = "default",
    save: bool = False,
    full: bool = False,
    digest_source: str | None = "database",
    check_tail: bool = False,
) -> Report:
    """Recompute an organisation's (None: the platform's) chains and say up to which event
    the whole log holds.

    Incremental unless `full`: each chain starts at its saved checkpoint. "Verified up to E"
    means every event of the organisation at or before E (in `(occurred_at, id)` order, in
    every chain) is sealed and matches its seal. `save` (the owner's jobs) stores the result
    and the new checkpoints, which the application's login may only read.
    """
    if save:
        using = owner_db(using)
    connection = connections[using]
    status_row = AuditChainStatus.objects.using(using).filter(org_id=org_id).first()
    checkpoints = {} if full or status_row is None else dict(status_row.checkpoints or {})
    signed = None
    if digest_source is not None:
        signed = load_signed_digests(
            org_id, source=digest_source, using=using, after=checkpoints.get(DIGESTS_POINT)
        )
    digest_point = None if signed is None else signed.point
    chains: list[ChainResult] = []
    bound: Key | None = None  # the earliest event that is not verified, in any chain
    digest_problem = None
    # Every chain's last purge receipt, and (incrementally) its seals past its checkpoint, in
    # two queries rather than two per chain.
    receipts: dict[str, AuditPurge] = {
        receipt.section: receipt
        for receipt in AuditPurge.objects.using(using)
        .filter(org_id=org_id)
        .order_by("section", "-through_seq")
        .distinct("section")
    }
    pending: dict[str, list[AuditSeal]] | None = None
    if not full:
        pending = {section.name: [] for section in catalog.sections()}
        after = Q(pk__in=[])
        for section in catalog.sections():
            seq = _chain_start_seq(checkpoints.get(section.name), receipts.get(section.name))
            after |= Q(section=section.name, seq__gt=seq)
        for seal in (
            _seals_of(org_id, using).filter(after).defer("manifest").order_by("section", "seq")
        ):
            pending[seal.section].append(seal)
    # Every event before the last sealing run's horizon was sealed by it: an event not yet
    # verified is then either in a chain that broke or after every verified one.
    sealed_through = (
        AuditSealRun.objects.using(using)
        .filter(org_id=org_id)
        .values_list("sealed_through", flat=True)
        .first()
    )
    with context.use(org_id=org_id), connection.cursor() as cursor:
        if signed is not None and signed.problem is not None:
            digest_problem = BrokenLink(
                "", 0, "digest invalid", None, signed.problem, (datetime.min.replace(tzinfo=UTC), 0)
            )
            signed = None
        for section in catalog.sections():
            chain = verify_chain(
                cursor,
                org_id,
                section.name,
                using=using,
                start=checkpoints.get(section.name),
                signed=signed,
                receipt=receipts.get(section.name),
                seals=None if pending is None else pending[section.name],
            )
            if check_tail and chain.broken is None:
                chain.broken = _check_tail(cursor, org_id, section.name, chain.verified_key)
            chains.append(chain)
            candidates = [chain.broken.bound] if chain.broken else []
            if sealed_through is None:
                # (No run has recorded its horizon: look for the chain's first unsealed event.)
                cursor.execute(
                    "SELECT e.occurred_at, e.id "
                    + _range_sql(chain.verified_key, org_id)
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
                "SELECT e.occurred_at, e.id FROM auditlog_auditevent e "
                f"WHERE {_org_sql(org_id)} AND e.occurred_at <= %(at)s "
                "AND (e.occurred_at, e.id) < (%(at)s, %(id)s) "
                "ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1",
                {"org": org_id, "at": bound[0], "id": bound[1]},
            )
            found = cursor.fetchone()
            up_to = None if found is None else tuple(found)
    breaks = [chain.broken for chain in chains if chain.broken is not None]
    if digest_problem is not None:
        breaks.insert(0, digest_problem)
    report = Report(
        org_id=org_id,
        verified=not breaks,
        sealed_events=sum(chain.sealed_events for chain in chains),
        verified_up_to=up_to,
        first_broken_link=min(breaks, key=lambda b: b.bound, default=None),
        chains=chains,
        digests_checked=0 if signed is None else signed.count,
    )
    if save:
        _save_status(report, using, digest_point if report.verified else None)
    return report


def _save_status(report: Report, using: str, digest_point: dict[str, Any] | None) -> None:
    up_to = report.verified_up_to
    checkpoints: dict[str, Any] = {
        chain.section: chain.checkpoint for chain in report.chains if chain.checkpoint is not None
    }
    if digest_point is not None:
        checkpoints[DIGESTS_POINT] = digest_point
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
            "checkpoints": checkpoints,
        },
    )


def status(org_id: int) -> AuditChainStatus | None:
    """The latest verification result (for the viewer's badge; no recomputation)."""
    return AuditChainStatus.objects.filter(org_id=org_id).first()
