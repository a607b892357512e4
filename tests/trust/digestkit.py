"""The writer side of docs/trust.md for tests: event lines, seals, signed digests, tombstones.

Written from the contract alone (not from scripts/verify_export.py) so the verifier is checked
against an independent implementation:

- an event's line is its NDJSON export line in the SQL `json_build_object(...)::text` form
  (`{"id" : "1", "occurred_at" : "…", …}`, JSON values of before/after/metadata in jsonb text
  form), UTF-8, and its digest is SHA-256 of the line;
- each section of an organisation (or of the platform, org None) is one chain of seals in
  (occurred_at, id) order (id numerically), at most `seal_size` events and never across a UTC
  day; head = SHA-256(previous head ‖ "auditdesk-seal-v2|<org>|<section>|<seq>|<count>|" ‖
  digests), the first previous head 32 zero bytes;
- every seal yields a digest document signed with Ed25519 over canonical(document without
  signature); digests chain by previous_digest_hash (ids 1, 2, …, in signing order);
- a purge removes a section's oldest seals' events and signs a tombstone (seal_seq =
  through_seal_seq, event_count 0, head_hash = previous_head_hash = the last purged seal's head).

Run as a script to write a large export for timing the verifier:

    python tests/trust/digestkit.py --events 1000000 --out /tmp/verify-bench
"""

import argparse
import base64
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ZERO = bytes(32)
VERSION = "auditdesk-digest-v1"
SECTIONS = ("User", "Session", "Conversation", "Customer", "Settings", "Work Session")


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@dataclass(frozen=True)
class Keypair:
    private: Ed25519PrivateKey
    raw: bytes

    @classmethod
    def generate(cls) -> "Keypair":
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cls(private, raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.raw).decode()

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        unsigned = {k: v for k, v in document.items() if k != "signature"}
        unsigned["key_id"] = self.key_id
        signature = self.private.sign(canonical(unsigned))
        return {**unsigned, "signature": base64.b64encode(signature).decode()}


def _pg_json(value: Any) -> str:
    """A value as PostgreSQL's json text shows it inside json_build_object."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_pg_json(k)} : {_pg_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def _jsonb(value: Any) -> str:
    """A jsonb value's text (before, after, metadata): ", " and ": " separators."""
    return json.dumps(value, ensure_ascii=False)


def event_line(
    event_id: int,
    occurred_at: str,
    section: str,
    *,
    event_type: str = "",
    action: str = "update",
    prop: str | None = "name",
    before: Any = None,
    after: Any = None,
    actor: tuple[str, str, str] = ("user", "7", "Ann Admin"),
    subject: tuple[str, str, str] = ("user", "8", "Ben Agent"),
    change_id: str | None = None,
    ip_address: str | None = "203.0.113.9",
    user_agent: str | None = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    request_id: str | None = None,
    metadata: Any = None,
    compact: bool = False,
) -> bytes:
    """The SQL export's line; compact=True: the same object as compact ASCII JSON (another
    writer's form: the verifier hashes whatever bytes were sealed)."""
    if compact:
        names = ("type", "id", "name")
        document = {
            "id": str(event_id),
            "occurred_at": occurred_at,
            "event_type": event_type or f"{section} Updated",
            "action": action,
            "section": section,
            "property": prop,
            "before": before,
            "after": after,
            "performed_by": dict(zip(names, actor, strict=True)),
            "subject": dict(zip(names, subject, strict=True)),
            "change_id": change_id,
            "ip_address": ip_address,
            "user_agent": user_agent,
            "request_id": request_id,
            "metadata": metadata,
        }
        return json.dumps(document, separators=(",", ":")).encode()
    parts = [
        ("id", json.dumps(str(event_id))),
        ("occurred_at", json.dumps(occurred_at)),
        ("event_type", _pg_json(event_type or f"{section} Updated")),
        ("action", _pg_json(action)),
        ("section", _pg_json(section)),
        ("property", _pg_json(prop)),
        ("before", _jsonb(before)),
        ("after", _jsonb(after)),
        ("performed_by", _pg_json(dict(zip(("type", "id", "name"), actor, strict=True)))),
        ("subject", _pg_json(dict(zip(("type", "id", "name"), subject, strict=True)))),
        ("change_id", _pg_json(change_id)),
        ("ip_address", _pg_json(ip_address)),
        ("user_agent", _pg_json(user_agent)),
        ("request_id", _pg_json(request_id)),
        ("metadata", _jsonb(metadata)),
    ]
    return ("{" + ", ".join(f'"{k}" : {v}' for k, v in parts) + "}").encode()


@dataclass
class Event:
    id: int
    occurred_at: str
    section: str
    line: bytes

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.line).digest()

    @property
    def order(self) -> tuple[str, int]:
        return (self.occurred_at, self.id)


@dataclass
class Seal:
    section: str
    seq: int
    events: list[Event]
    previous_head: bytes
    head: bytes
    forged: list[str] = field(default_factory=list)


def seal_head(
    previous: bytes, org_id: int | None, section: str, seq: int, digests: list[bytes]
) -> bytes:
    org = "" if org_id is None else str(org_id)
    header = f"auditdesk-seal-v2|{org}|{section}|{seq}|{len(digests)}|".encode()
    return hashlib.sha256(previous + header + b"".join(digests)).digest()


class Writer:
    """One organisation's (or the platform's) log: events, seals and the digest chain."""

    def __init__(
        self,
        org_id: int | None = 42,
        key: Keypair | None = None,
        *,
        seal_size: int = 4,
        start: datetime | None = None,
        first_id: int = 1000,
        seed: int = 7,
        compact: bool = False,
    ) -> None:
        self.org_id = org_id
        self.key = key or Keypair.generate()
        self.seal_size = seal_size
        self.clock = start or datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
        self.next_id = first_id
        self.random = random.Random(seed)
        self.compact = compact
        self.events: list[Event] = []  # what the database still holds (the export)
        self.seals: dict[str, list[Seal]] = {}
        self.sealed: set[int] = set()  # event ids sealed so far
        self.digests: list[dict[str, Any]] = []
        self.purged_through: dict[str, int] = {}

    # ------------------------------------------------------------------ events

    def add(
        self,
        section: str,
        count: int = 1,
        *,
        step: timedelta = timedelta(seconds=7),
        same_time: bool = False,
        **fields: Any,
    ) -> list[Event]:
        """Append events; ids grow with gaps (other organisations' rows)."""
        made = []
        for _ in range(count):
            if not same_time:
                self.clock += step
            self.next_id += self.random.randint(1, 3)
            at = timestamp(self.clock)
            values = {
                "after": f"value {self.next_id}",
                "metadata": {"source": "web", "n": self.next_id},
                "compact": self.compact,
                **fields,
            }
            line = event_line(self.next_id, at, section, **values)
            made.append(Event(self.next_id, at, section, line))
        self.events += made
        return made

    def add_event(self, event_id: int, occurred_at: str, section: str, **fields: Any) -> Event:
        """One event with a chosen id and time (for late commits and id-order cases)."""
        fields.setdefault("compact", self.compact)
        event = Event(
            event_id, occurred_at, section, event_line(event_id, occurred_at, section, **fields)
        )
        self.events.append(event)
        return event

    # ------------------------------------------------------------------ sealing

    def seal(
        self, *, until: str | None = None, forged: set[int] | None = None, sign: bool = True
    ) -> list[dict]:
        """Seal every section's unsealed events (optionally only those before `until`);
        seals are signed in order of their last event, as a sealing run over sections does.
        sign=False: release-1 seals, which have no digests."""
        new: list[Seal] = []
        for section in sorted({event.section for event in self.events}):
            pending = sorted(
                (
                    e
                    for e in self.events
                    if e.section == section
                    and e.id not in self.sealed
                    and (until is None or e.occurred_at < until)
                ),
                key=lambda e: e.order,
            )
            chain = self.seals.setdefault(section, [])
            while pending:
                day = pending[0].occurred_at[:10]
                batch = [e for e in pending[: self.seal_size] if e.occurred_at[:10] == day]
                pending = pending[len(batch) :]
                previous = chain[-1].head if chain else ZERO
                seq = len(chain) + 1
                head = seal_head(
                    previous, self.org_id, section, seq, [event.digest for event in batch]
                )
                bad = [str(e.id) for e in batch if forged and e.id in forged]
                seal = Seal(section, seq, batch, previous, head, bad)
                chain.append(seal)
                self.sealed.update(event.id for event in batch)
                new.append(seal)
        new.sort(key=lambda seal: (seal.events[-1].order, seal.section))
        return [self.sign_seal(seal) for seal in new] if sign else []

    def sign_seal(self, seal: Seal) -> dict[str, Any]:
        first, last = seal.events[0], seal.events[-1]
        return self.append(
            {
                "section": seal.section,
                "seal_seq": seal.seq,
                "first_event_id": str(first.id),
                "last_event_id": str(last.id),
                "first_occurred_at": first.occurred_at,
                "last_occurred_at": last.occurred_at,
                "event_count": len(seal.events),
                "previous_head_hash": seal.previous_head.hex(),
                "head_hash": seal.head.hex(),
                "forged_event_ids": seal.forged,
                "purged": None,
            }
        )

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        previous = self.digests[-1] if self.digests else None
        document = {
            "version": VERSION,
            "id": len(self.digests) + 1,
            "org_id": self.org_id,
            **fields,
            "previous_digest_hash": (
                None if previous is None else hashlib.sha256(canonical(previous)).hexdigest()
            ),
            "signed_at": timestamp(self.clock),
        }
        document = self.key.sign(document)
        self.digests.append(document)
        return document

    def rotate(self, key: Keypair) -> None:
        self.key = key

    # ------------------------------------------------------------------ retention

    def purge(self, section: str, through: int, *, delete_events: bool = True) -> dict[str, Any]:
        """Retention: drop the events of seals up to `through` and sign a tombstone."""
        chain = self.seals[section]
        start = self.purged_through.get(section, 0) + 1
        purged = chain[start - 1 : through]
        gone = {event.id for seal in purged for event in seal.events}
        if delete_events:
            self.events = [event for event in self.events if event.id not in gone]
        self.purged_through[section] = through
        last_seal = chain[through - 1]
        first, last = purged[0].events[0], last_seal.events[-1]
        head = last_seal.head.hex()
        return self.append(
            {
                "section": section,
                "seal_seq": through,
                "first_event_id": str(first.id),
                "last_event_id": str(last.id),
                "first_occurred_at": first.occurred_at,
                "last_occurred_at": last.occurred_at,
                "event_count": 0,
                "previous_head_hash": head,
                "head_hash": head,
                "forged_event_ids": [],
                "purged": {
                    "through_seal_seq": through,
                    "event_count": len(gone),
                    "first_event_id": str(first.id),
                    "last_event_id": str(last.id),
                    "cutoff": timestamp(self.clock - timedelta(days=90)),
                    "policy": {"days": 90, "source": "default", "event_id": None},
                    "purged_at": timestamp(self.clock),
                },
            }
        )

    # ------------------------------------------------------------------ files

    def export_bytes(self, *, newest_first: bool = True, crlf: bool = False) -> bytes:
        ordered = sorted(self.events, key=lambda e: e.order, reverse=newest_first)
        end = b"\r\n" if crlf else b"\n"
        return b"".join(event.line + end for event in ordered)

    def write(self, directory: Path, *, form: str = "array", **export: Any) -> "Files":
        directory.mkdir(parents=True, exist_ok=True)
        events = directory / "export.ndjson"
        events.write_bytes(self.export_bytes(**export))
        key = directory / "public_key.b64"
        key.write_text(self.key.public_b64 + "\n")
        digests = write_digests(directory / f"digests-{form}", self.digests, form)
        return Files(events, digests, key)


@dataclass
class Files:
    events: Path
    digests: Path
    key: Path


def write_digests(path: Path, documents: list[dict[str, Any]], form: str = "array") -> Path:
    """The digests as a JSON array, an API page ("results"), {"digests": …}, NDJSON, or a
    directory like AUDIT_DIGEST_DIR: <org>/<first id>-<last id>.ndjson files of (here) at
    most three documents each."""
    if form == "dir":
        for at in range(0, len(documents), 3):
            some = documents[at : at + 3]
            org = "platform" if some[0]["org_id"] is None else str(some[0]["org_id"])
            file = path / org / f"{some[0]['id']:012d}-{some[-1]['id']:012d}.ndjson"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(b"".join(canonical(document) + b"\n" for document in some))
        return path
    path = path.with_suffix(".ndjson" if form == "ndjson" else ".json")
    if form == "array":
        path.write_text(json.dumps(documents, indent=1))
    elif form == "page":
        newest = list(reversed(documents))
        path.write_text(json.dumps({"count": len(newest), "next": None, "results": newest}))
    elif form == "digests":
        path.write_text(json.dumps({"digests": documents}))
    elif form == "ndjson":
        path.write_bytes(b"".join(canonical(document) + b"\n" for document in documents))
    else:
        raise ValueError(form)
    return path


def resign(
    documents: list[dict[str, Any]], key: Keypair, start: int = 0, *, relink: bool = True
) -> list[dict[str, Any]]:
    """Sign documents[start:] again after an edit (as a key holder could), relinking each
    previous_digest_hash to the document before it unless `relink` is False."""
    out = list(documents[:start])
    for document in documents[start:]:
        document = dict(document)
        if relink:
            document["previous_digest_hash"] = (
                hashlib.sha256(canonical(out[-1])).hexdigest() if out else None
            )
        out.append(key.sign(document))
    return out


# --------------------------------------------------------------------------- benchmark data


def bench(events: int, out: Path, seed: int = 1) -> Files:
    """A large export: several sections, 10,000-event seals split at UTC days, ~600-byte lines."""
    rng = random.Random(seed)
    writer = Writer(42, seal_size=10_000, first_id=10_000_000, seed=seed)
    clock = datetime(2026, 9, 1, tzinfo=UTC)
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    agent += "Chrome/131.0.0.0 Safari/537.36"
    made = []
    next_id = 10_000_000
    for n in range(events):
        clock += timedelta(microseconds=rng.randint(1, 2_000_000))
        next_id += rng.randint(1, 3)
        section = SECTIONS[rng.randrange(len(SECTIONS))]
        at = timestamp(clock)
        line = event_line(
            next_id,
            at,
            section,
            action=rng.choice(("create", "update", "delete")),
            prop=rng.choice(("name", "email", "status", "role", None)),
            before=f"old value {n}",
            after={"value": f"new value {n}", "by": "Ann Admin", "at": at},
            subject=("user", str(rng.randint(1, 50_000)), f"User {rng.randint(1, 50_000)}"),
            change_id=f"{rng.getrandbits(128):032x}",
            user_agent=agent,
            request_id=f"{rng.getrandbits(64):016x}",
            metadata={"source": "web", "tenant": 42, "reason": None},
        )
        made.append(Event(next_id, at, section, line))
    writer.events = made
    writer.clock = clock
    keep = made[-events // 200].occurred_at  # the newest 0.5% stay unsealed
    writer.seal(until=keep)
    return writer.write(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    files = bench(args.events, args.out)
    print(
        f"--events {files.events} --digests {files.digests} --public-key {files.key}",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()
