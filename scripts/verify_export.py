#!/usr/bin/env python3
"""Verify an Auditdesk audit-log export offline against its signed digests (docs/trust.md).

    python verify_export.py --events EXPORT.ndjson --digests DIGESTS --public-key KEY
                            [--public-key KEY2 ...] [--quiet]

A single file for auditors: Python 3.11+, the standard library and `cryptography`; no Django,
no database, no network.

EXPORT.ndjson  the organisation's NDJSON export (GET /api/v1/audit-log/export/?format=ndjson or
               a background export), unfiltered, lines in any order (exports are newest
               first). Each event's digest is SHA-256 of its line's bytes as read, without the
               line end ("\\n" or "\\r\\n"); lines are parsed only for id, occurred_at, section.
DIGESTS        the same organisation's signed digests (or the platform chain's): a JSON array
               of digest documents, a JSON object with a "results" list (an API page) or a
               "digests" list, NDJSON of documents, or a directory of digest files (*.ndjson,
               *.json: AUDIT_DIGEST_DIR/<org>/, read recursively). A file's documents must be in id
               order (ascending, or descending as an API page lists them); a directory's files
               are put in id order. Identical copies of a document (overlapping pages) count once.
KEY            base64 of the raw 32-byte Ed25519 public key (`public_key` of
               GET /api/v1/audit-integrity/), inline or in a file; or a file holding a PEM
               public key, or that endpoint's JSON answer (`public_key` and `public_keys`).
               Repeat --public-key for rotated keys; each digest names its key by `key_id`.

What is checked (docs/trust.md, "Offline verification"):
 1. the digest chain: ids 1..n with no gap, each signature under the key its `key_id` names,
    each `previous_digest_hash` (null for digest 1);
 2. the export's lines grouped by section and ordered by (occurred_at, id), id numerically;
 3. each section's digests in seal_seq order: seal_seq goes up by one, previous_head_hash
    continues the previous seal (32 zero bytes for seal 1), and every seal takes exactly its
    event_count events, first_event_id to last_event_id, whose line digests must give its
    head_hash = SHA-256(previous_head_hash || "auditdesk-seal-v2|<org>|<section>|<seal_seq>|
    <event_count>|" || digest_1 || ... || digest_n), <org> empty for the platform chain.
    A digest that lists forged_event_ids is a broken link ("forged event <id>").

Retention. A tombstone (a digest whose `purged` is set) sits in its section's walk right
after the seal it purges through, and the next seal continues from its head_hash. Seals up
to the section's highest through_seal_seq may have their events absent: a seal none of whose
boundary events (first_event_id, last_event_id) is in the export counts as purged (its
event_count is reported as purged by retention; any other event of the export inside its
range is an added event). When a purged seal's events are still in the export (an export
made before the purge) they are verified like any other seal's, so every line of the export
that lies inside a seal is checked.

Release-1 seals have no digests (they verify in the database only). When a section's first
digest is a seal after seal 1, the events before it are reported as "sealed before signed
digests" and not verified; that digest's previous_head_hash is taken as signed.

What a broken link names. A digest signs only its seal's head hash, not a list of events,
so when the events present inside a seal do not hash to it, the verifier names the event
when the evidence allows: a boundary event that is missing or moved, an event before or
between seals, a duplicated line, the one event whose removal restores the seal, a seal of
one event. Otherwise it names the seal (digest id, section, seal_seq, event id range) and
what differs (count or content); the database's verifier, which keeps seal manifests, can
then name the row.

Exit status: 0 intact; 1 BROKEN (the first broken link: digest-chain problems in digest id
order, then the earliest digest, by id, at which a section's walk breaks); 2 the input
cannot be verified (unreadable or malformed files, a wrong key, digests of two
organisations or out of order, an export of another organisation). A bad signature on a
digest whose key_id names a given key is a broken link (1): the digest was changed after
signing. A key_id matching none of the given keys on every digest is a wrong key (2); on
only some digests it is a broken link (1, "unknown key id").

Events newer than the last seal of their section are reported as not yet sealed (not an
error). Lines are read for their three fields with patterns of the SQL line form; a line
inside a seal whose hash verifies is the database's own JSON, and every other line that the
verdict rests on (not yet sealed, or in the seal reported broken) is parsed in full, so a
line that is not JSON is bad input (exit 2), "(truncated?)" when it is the file's last.
"""

import argparse
import base64
import binascii
import bisect
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # reported by main() as a one-line error
    Ed25519PublicKey = None  # type: ignore[assignment,misc]

DIGEST_VERSION = "auditdesk-digest-v1"
SEAL_VERSION = b"auditdesk-seal-v2"
ZERO_HEAD = bytes(32)
HIGH = b"\xff" * 32  # after any digest: (occurred_at, id) + HIGH ends a key range

TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00\Z")
EVENT_ID = re.compile(r"[0-9]{1,19}\Z")
HEX64 = re.compile(r"[0-9a-f]{64}\Z")

# The export's lines start with id, occurred_at, event_type, action, section (SQL
# json_build_object text: `{"id" : "1", "occurred_at" : "…", …`). These patterns read the three
# fields without a full parse: first the SQL form itself (no escapes in the first fields), then
# any spacing and escapes; any other line goes through json.loads. A line inside a seal whose
# hash verifies is byte for byte what the database produced; lines past their section's last
# seal, and those of a seal reported broken, are parsed in full.
SQL_LINE = re.compile(
    rb'\{"id" : "([0-9]{1,19})", "occurred_at" : "([0-9T:.+-]{32})", "event_type" : "[^"\\]*", '
    rb'"action" : "[^"\\]*", "section" : "([^"\\]*)"'
)
_JSON_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
FAST_LINE = re.compile(
    rb'\{\s*"id"\s*:\s*"(\d{1,19})"\s*,\s*"occurred_at"\s*:\s*'
    rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00)"\s*,'
    rb'\s*"event_type"\s*:\s*' + _JSON_STRING + rb"\s*,"
    rb'\s*"action"\s*:\s*' + _JSON_STRING + rb"\s*,"
    rb'\s*"section"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"'
)

# An event in memory is one bytes object: occurred_at (32 ASCII bytes) + id (8 bytes, big
# endian) + SHA-256 of its line (32 bytes), so a plain sort is (occurred_at, id) order.
KEY_BYTES = 40


class InputError(Exception):
    """The input cannot be verified: exit 2 with this one-line message."""


class Broken:
    """A broken link: the digest id it is found at (chain order) and what is wrong."""

    def __init__(self, digest_id: int, message: str, blame: tuple[str, bytes, bytes] | None = None):
        self.digest_id = digest_id
        self.message = message
        self.blame = blame  # (section, low key, high key): lines to re-read and name


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def event_key(occurred_at: str | bytes, event_id: int) -> bytes:
    if isinstance(occurred_at, str):
        occurred_at = occurred_at.encode("ascii")
    return occurred_at + event_id.to_bytes(8, "big")


def id_of_key(key: bytes) -> int:
    return int.from_bytes(key[32:KEY_BYTES], "big")


# --------------------------------------------------------------------------- public keys


def _raw_keys_from_text(text: str, where: str) -> list[bytes]:
    text = text.strip().lstrip("\ufeff")
    if "-----BEGIN" in text:
        if "PRIVATE KEY" in text:
            raise InputError(
                f"{where} is a private key: give the public key "
                "(`openssl pkey -in KEY -pubout`, or public_key of /api/v1/audit-integrity/)"
            )
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InputError(f"{where} is not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InputError(f"{where} is a PEM public key, but not an Ed25519 one")
        return [key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)]
    if text.startswith("{"):
        try:
            answer = json.loads(text)
        except ValueError:
            raise InputError(f"{where} is not valid JSON") from None
        found: list[str] = []
        if isinstance(answer.get("public_key"), str):
            found.append(answer["public_key"])
        for item in answer.get("public_keys") or []:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict) and isinstance(item.get("public_key"), str):
                found.append(item["public_key"])
        if not found:
            raise InputError(f"{where}: a JSON object without public_key or public_keys")
        return [raw for value in found for raw in _raw_keys_from_text(value, where)]
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InputError(
            f"{where} is not base64 of a raw 32-byte Ed25519 public key, nor a PEM public key"
        )
    return [raw]


def load_keys(values: list[str]) -> dict[str, Any]:
    """key_id -> Ed25519PublicKey for every --public-key (inline base64 or a file)."""
    keys: dict[str, Any] = {}
    for value in values:
        path = Path(value)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"public key file {value} cannot be read ({exc})") from None
            raws = _raw_keys_from_text(text, f"public key file {value}")
        elif path.exists():
            raise InputError(f"public key {value} is not a file")
        else:
            try:
                raws = _raw_keys_from_text(value, "--public-key value")
            except InputError:
                raise InputError(
                    f"public key {value!r}: no such file, and not base64 of a raw 32-byte "
                    "Ed25519 public key"
                ) from None
        for raw in raws:
            keys[hashlib.sha256(raw).hexdigest()[:16]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


# --------------------------------------------------------------------------- digests


def _json_error(where: str, exc: json.JSONDecodeError) -> InputError:
    return InputError(
        f"{where} is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}; truncated?)"
    )


def _documents_of(value: Any, where: str) -> list[Any]:
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        if isinstance(value.get("results"), list):
            items = value["results"]
        elif isinstance(value.get("digests"), list):
            items = value["digests"]
        elif "signature" in value or "version" in value:
            items = [value]
        else:
            raise InputError(f"{where}: a JSON object with neither a results nor a digests list")
    else:
        raise InputError(f"{where}: expected digest documents, found a JSON {type(value).__name__}")
    documents = []
    for item in items:
        # An API page may wrap each document.
        if (
            isinstance(item, dict)
            and "signature" not in item
            and isinstance(item.get("document"), dict)
        ):
            item = item["document"]
        if not isinstance(item, dict):
            raise InputError(f"{where}: an item is not a digest document (a JSON object)")
        documents.append(item)
    return documents


def read_digest_file(path: Path) -> list[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"digests {path} cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise InputError(f"digests {path} is not UTF-8 text (not JSON)") from None
    stripped = text.strip()
    if not stripped:
        raise InputError(f"digests {path} is empty")
    if stripped[0] not in "[{":
        raise InputError(f"digests {path} is not JSON (expected signed digest documents)")
    try:
        return _documents_of(json.loads(stripped), f"digests {path}")
    except json.JSONDecodeError as whole:
        lines = text.splitlines()
        first = next((line for line in lines if line.strip()), "")
        try:
            json.loads(first)
        except json.JSONDecodeError:
            raise _json_error(f"digests {path}", whole) from None
    # NDJSON: one document per line.
    documents: list[dict[str, Any]] = []
    last = max(number for number, line in enumerate(lines, 1) if line.strip())
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            hint = " (truncated?)" if number == last else ""
            raise InputError(f"digests {path}: line {number} is not valid JSON{hint}") from None
        documents += _documents_of(value, f"digests {path} line {number}")
    return documents


def load_digests(source: str) -> list[dict[str, Any]]:
    """The digest documents in id order, identical copies once (InputError if unusable)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(
            file
            for pattern in ("*.json", "*.ndjson")
            for file in path.rglob(pattern)
            if file.is_file()
        )
        if not files:
            raise InputError(f"digests directory {source} holds no digest files (*.ndjson, *.json)")
        documents = [document for file in files for document in read_digest_file(file)]
        ordered = False
    elif path.exists():
        documents = read_digest_file(path)
        ordered = True
    else:
        raise InputError(f"digests {source}: no such file or directory")
    if not documents:
        raise InputError(f"digests {source} holds no digest documents")
    for document in documents:
        ident = document.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool) or ident < 1:
            raise InputError(f"digests {source}: a document without a positive integer id")
        if document.get("version") != DIGEST_VERSION:
            raise InputError(
                f"digest {ident}: version {document.get('version')!r} is not {DIGEST_VERSION} "
                "(a newer verifier may be needed)"
            )
        org = document.get("org_id")
        if org is not None and (not isinstance(org, int) or isinstance(org, bool)):
            raise InputError(f"digest {ident}: org_id {org!r} is not an integer or null")
    orgs = {document.get("org_id") for document in documents}
    if len(orgs) > 1:
        names = ", ".join(sorted(org_name(org) for org in orgs))
        raise InputError(
            f"digests {source} belong to more than one chain ({names}): give one "
            "organisation's digests (or the platform's), e.g. AUDIT_DIGEST_DIR/<org_id>/"
        )
    ids = [document["id"] for document in documents]
    if ordered and ids != sorted(ids) and ids != sorted(ids, reverse=True):
        rising = ids[-1] >= ids[0]
        at = next(
            i
            for i in range(1, len(ids))
            if (ids[i] < ids[i - 1] if rising else ids[i] > ids[i - 1])
        )
        raise InputError(
            f"digests {source} are out of order (digest {ids[at]} follows digest "
            f"{ids[at - 1]}): give them in id order"
        )
    documents.sort(key=lambda document: document["id"])
    unique: list[dict[str, Any]] = []
    for document in documents:
        if unique and unique[-1]["id"] == document["id"]:
            if canonical(unique[-1]) == canonical(document):
                continue
        unique.append(document)
    return unique


def org_name(org: int | None) -> str:
    return "platform" if org is None else f"organisation {org}"


class Digest:
    """The fields of one checked digest document the walk needs."""

    __slots__ = (
        "id",
        "section",
        "seq",
        "first_id",
        "last_id",
        "lo",
        "hi",
        "count",
        "previous",
        "head",
        "forged",
        "through",
    )

    def __init__(self, document: dict[str, Any]) -> None:
        where = f"digest {document['id']}"

        def need(name: str, ok: bool, what: str) -> None:
            if not ok:
                raise InputError(f"{where} is signed but malformed: {name} is not {what}")

        def is_int(value: Any, least: int) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= least

        def event_id(value: Any) -> bool:
            return isinstance(value, str) and EVENT_ID.match(value) is not None

        def timestamp(value: Any) -> bool:
            return isinstance(value, str) and TIMESTAMP.match(value) is not None

        get = document.get
        need("section", isinstance(get("section"), str) and get("section") != "", "a name")
        need("seal_seq", is_int(get("seal_seq"), 1), "a positive integer")
        need("event_count", is_int(get("event_count"), 0), "a count")
        for name in ("previous_head_hash", "head_hash"):
            need(name, isinstance(get(name), str) and HEX64.match(get(name)) is not None, "64 hex")
        forged = get("forged_event_ids")
        need("forged_event_ids", isinstance(forged, list), "a list")
        purged = get("purged")
        need("purged", purged is None or isinstance(purged, dict), "null or an object")
        self.id: int = document["id"]
        self.section: str = get("section")
        self.seq: int = get("seal_seq")
        self.count: int = get("event_count")
        self.previous = bytes.fromhex(get("previous_head_hash"))
        self.head = bytes.fromhex(get("head_hash"))
        self.forged = [str(value) for value in forged]
        self.through: int | None = None
        self.first_id = self.last_id = 0
        self.lo = self.hi = b""
        if purged is not None:
            through = purged.get("through_seal_seq")
            need("purged.through_seal_seq", is_int(through, 1), "a positive integer")
            need("seal_seq", self.seq == through, "purged.through_seal_seq (a tombstone)")
            need("event_count", self.count == 0, "0 (a tombstone)")
            need("head_hash", self.head == self.previous, "previous_head_hash (a tombstone)")
            self.through = through
            return
        need("event_count", self.count >= 1, "at least 1")
        for name in ("first_event_id", "last_event_id"):
            need(name, event_id(get(name)), "an event id (a string of digits)")
        for name in ("first_occurred_at", "last_occurred_at"):
            need(name, timestamp(get(name)), "a UTC timestamp with microseconds")
        self.first_id = int(get("first_event_id"))
        self.last_id = int(get("last_event_id"))
        self.lo = event_key(get("first_occurred_at"), self.first_id)
        self.hi = event_key(get("last_occurred_at"), self.last_id)
        need("last_event_id", self.lo <= self.hi, "at or after the first event")

    def name(self) -> str:
        if self.through is not None:
            return f"digest {self.id}, tombstone of {self.section} seals through {self.through}"
        return f"digest {self.id}, {self.section} seal {self.seq}"


def check_digest_chain(
    documents: list[dict[str, Any]], keys: dict[str, Any]
) -> tuple[list[Digest], Broken | None]:
    """Step 1: ids 1..n, signatures, previous_digest_hash; the checked digests in id order."""
    named = {document.get("key_id") for document in documents}
    if not any(isinstance(key_id, str) and key_id in keys for key_id in named):
        given = ", ".join(sorted(keys))
        theirs = ", ".join(sorted(str(key_id) for key_id in named))
        raise InputError(
            f"wrong public key: the digests are signed by key id {theirs}, the given key(s) "
            f"have key id {given}"
        )
    checked: list[Digest] = []
    previous: dict[str, Any] | None = None
    for document in documents:
        ident = document["id"]
        expected = 1 if previous is None else previous["id"] + 1
        if ident == expected - 1:
            return checked, Broken(ident, f"digest {ident} appears twice with different content")
        if ident != expected:
            missing = (
                f"digest {expected} is missing"
                if ident == expected + 1
                else f"digests {expected} to {ident - 1} are missing"
            )
            after = (
                "the digests start at digest " + str(ident)
                if previous is None
                else f"digest {expected - 1} is followed by digest {ident}"
            )
            return checked, Broken(ident, f"digest gap: {missing} ({after})")
        key_id = document.get("key_id")
        key = keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            return checked, Broken(
                ident,
                f"digest {ident}: unknown key id {key_id!r} (not one of the given public keys; "
                "give every key listed in public_keys)",
            )
        signature = document.get("signature")
        try:
            raw = base64.b64decode(signature if isinstance(signature, str) else "", validate=True)
            key.verify(raw, canonical({k: v for k, v in document.items() if k != "signature"}))
        except (InvalidSignature, ValueError, binascii.Error):
            return checked, Broken(
                ident,
                f"bad signature on digest {ident}: the document was changed after it was "
                f"signed (key id {key_id})",
            )
        link = None if previous is None else hashlib.sha256(canonical(previous)).hexdigest()
        if document.get("previous_digest_hash") != link:
            what = "is not null" if previous is None else f"does not match digest {ident - 1}"
            return checked, Broken(
                ident,
                f"previous_digest_hash mismatch: digest {ident}'s previous_digest_hash {what}",
            )
        checked.append(Digest(document))
        previous = document
    return checked, None


# --------------------------------------------------------------------------- the export


def _line_error(number: int, last: bool) -> InputError:
    hint = " (truncated?)" if last else ""
    return InputError(f"export line {number} is not valid JSON{hint}")


class _NotJson(Exception):
    """A line that is not JSON: reported with its number, "(truncated?)" if it is the last."""


def _parse_slow(line: bytes, number: int) -> tuple[str, bytes, int]:
    """(section, occurred_at + id key, id) of a line the fast pattern did not read."""
    try:
        event = json.loads(line)
    except ValueError:
        if number == 1 and line.startswith(b"id,occurred_at"):
            raise InputError("export line 1 is a CSV header: give the NDJSON export") from None
        raise _NotJson from None
    if not isinstance(event, dict):
        raise InputError(f"export line {number} is not an event (a JSON object)")
    ident, occurred_at, section = event.get("id"), event.get("occurred_at"), event.get("section")
    if not (isinstance(ident, str) and EVENT_ID.match(ident)):
        raise InputError(f"export line {number}: id is not an event id (a string of digits)")
    if not (isinstance(occurred_at, str) and TIMESTAMP.match(occurred_at)):
        raise InputError(
            f"export line {number}: occurred_at {occurred_at!r} is not the export's UTC form "
            "(YYYY-MM-DDTHH:MM:SS.ffffff+00:00)"
        )
    if not isinstance(section, str):
        raise InputError(f"export line {number}: section is not a string")
    event_id = int(ident)
    return section, event_key(occurred_at, event_id), event_id


def _section_name(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8")
    except ValueError:
        raise InputError(f"export: section {raw!r} is not valid UTF-8 JSON text") from None


def _lines(path: str) -> Any:
    try:
        return open(path, "rb")  # noqa: SIM115 (closed by the caller's with)
    except FileNotFoundError:
        raise InputError(f"export {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"export {path} is a directory, not an NDJSON file") from None
    except OSError as exc:
        raise InputError(f"export {path} cannot be read ({exc.strerror})") from None


class Export:
    """The export's events by section, each list sorted in (occurred_at, id) order."""

    def __init__(self) -> None:
        self.sections: dict[str, list[bytes]] = {}
        self.events = 0

    def holds(self, section: str, key: bytes) -> bool:
        """Whether an event with this (occurred_at, id) key is in the section."""
        keys = self.sections.get(section, [])
        index = bisect.bisect_left(keys, key)
        return index < len(keys) and keys[index][:KEY_BYTES] == key


BLOCK_BYTES = 1 << 24


def _blocks(handle: Any) -> Any:
    """(number of the first line, the lines without their line ends) per block of the file."""
    rest = b""
    number = 1
    while block := handle.read(BLOCK_BYTES):
        if rest:
            block = rest + block
        cut = block.rfind(b"\n")
        if cut < 0:
            rest = block
            continue
        rest = block[cut + 1 :]
        lines = block[:cut].split(b"\n")
        if b"\r" in block:
            lines = [line[:-1] if line[-1:] == b"\r" else line for line in lines]
        yield number, lines
        number += len(lines)
    if rest:
        yield number, [rest]


def _parse_line(line: bytes, number: int) -> tuple[Any, bytes, int]:
    """(section, occurred_at + id key, id) of a line, by the pattern or by json.loads."""
    fast = FAST_LINE.match(line)
    if fast is not None:
        ident = int(fast.group(1))
        return fast.group(3), fast.group(2) + ident.to_bytes(8, "big"), ident
    return _parse_slow(line, number)


def read_export(path: str, sealed_end: dict[Any, bytes]) -> Export:
    """Step 2. `sealed_end`: section (name, and its JSON-escaped bytes) -> the key past its
    last seal; lines beyond it are parsed in full."""
    export = Export()
    by_raw: dict[Any, list[bytes]] = {}
    match, match_any = SQL_LINE.match, FAST_LINE.match
    sha256 = hashlib.sha256
    loads = json.loads
    last_line, last_number = b"", 0
    with _lines(path) as handle:
        blocks = _blocks(handle)
        for first, lines in blocks:
            try:
                for index, line in enumerate(lines):
                    if not line:
                        continue
                    fast = match(line) or match_any(line)
                    if fast is not None:
                        ident_text, occurred_at, section = fast.groups()
                        ident = int(ident_text)
                        key = occurred_at + ident.to_bytes(8, "big")
                    else:
                        section, key, ident = _parse_slow(line, first + index)
                    key += sha256(line).digest()
                    end = sealed_end.get(section)
                    if end is None or key > end:  # not inside a seal: parse it in full now
                        try:
                            loads(line)
                        except ValueError:
                            raise _NotJson from None
                    events = by_raw.get(section)
                    if events is None:
                        events = by_raw[section] = []
                    events.append(key)
            except _NotJson:
                follows = any(lines[index + 1 :]) or any(any(more) for _, more in blocks)
                raise _line_error(first + index, not follows) from None
            for index in range(len(lines) - 1, -1, -1):
                if lines[index]:
                    last_line, last_number = lines[index], first + index
                    break
    if not last_number:
        raise InputError(f"export {path} is empty (no event lines)")
    try:
        loads(last_line)  # the file's last line, cut short when the file is truncated
    except ValueError:
        raise _line_error(last_number, True) from None
    for raw_section, keys in by_raw.items():
        name = _section_name(raw_section)
        if name in export.sections:
            export.sections[name] += keys
        else:
            export.sections[name] = keys
        export.events += len(keys)
    for keys in export.sections.values():
        keys.sort()
    return export


def locate_lines(path: str, section: str, low: bytes, high: bytes) -> dict[int, int]:
    """Re-read the export: parse in full every line of `section` with low <= key <= high
    (InputError for one that is not JSON) and map their event ids to line numbers."""
    where: dict[int, int] = {}
    with _lines(path) as handle:
        blocks = _blocks(handle)
        for first, lines in blocks:
            try:
                for index, line in enumerate(lines):
                    if not line:
                        continue
                    raw_section, head, ident = _parse_line(line, first + index)
                    if low <= head <= high and _section_name(raw_section) == section:
                        try:
                            json.loads(line)
                        except ValueError:
                            raise _NotJson from None
                        where.setdefault(ident, first + index)
            except _NotJson:
                follows = any(lines[index + 1 :]) or any(any(more) for _, more in blocks)
                raise _line_error(first + index, not follows) from None
    return where


def find_event(export: Export, event_id: int) -> tuple[str, bytes] | None:
    """Where an event id is in the export (section, key), wherever its fields now put it."""
    wanted = event_id.to_bytes(8, "big")
    for section, keys in export.sections.items():
        for key in keys:
            if key[32:KEY_BYTES] == wanted:
                return section, key
    return None


# --------------------------------------------------------------------------- the walk


class SectionResult:
    def __init__(self, section: str) -> None:
        self.section = section
        self.verified = 0
        self.purged = 0
        self.purged_seals = 0
        self.unsealed = 0
        self.before_digests = 0
        self.seals = 0
        self.broken: Broken | None = None


def seal_header(org: int | None, section: str, seq: int, count: int) -> bytes:
    org_text = "" if org is None else str(org)
    return SEAL_VERSION + f"|{org_text}|{section}|{seq}|{count}|".encode()


def walk_section(
    section: str, digests: list[Digest], keys: list[bytes], org: int | None, export: Export
) -> SectionResult:
    """Step 3 for one section: its digests (id order) against its sorted event keys."""
    result = SectionResult(section)
    seals = [digest for digest in digests if digest.through is None]
    tombstones = [digest for digest in digests if digest.through is not None]
    by_seq: dict[int, Digest] = {}
    before: Digest | None = None
    for seal in seals:
        if before is not None and seal.seq != before.seq + 1:
            if seal.seq in by_seq:
                what = f"a duplicate: digest {by_seq[seal.seq].id} signs it already"
            elif seal.seq < before.seq:
                what = "out of order"
            elif seal.seq == before.seq + 2:
                what = f"a digest gap: seal {before.seq + 1} has no digest"
            else:
                what = f"a digest gap: seals {before.seq + 1} to {seal.seq - 1} have no digest"
            result.broken = Broken(
                seal.id,
                f"digest {seal.id} signs {section} seal {seal.seq} after seal {before.seq} "
                f"(digest {before.id}): {what}",
            )
            return result
        by_seq[seal.seq] = before = seal
    # Tombstones of seals before the first digest purged release-1 seals (no digests).
    first_seq = seals[0].seq if seals else sys.maxsize
    last_seq = seals[-1].seq if seals else 0
    through_max = 0
    for tombstone in tombstones:
        if tombstone.through <= through_max:
            result.broken = Broken(
                tombstone.id,
                f"{tombstone.name()} comes after a tombstone through seal {through_max}: "
                "out of order",
            )
            return result
        if tombstone.through >= first_seq and (
            tombstone.through > last_seq or by_seq[tombstone.through].id > tombstone.id
        ):
            result.broken = Broken(
                tombstone.id,
                f"{tombstone.name()}: no earlier digest signs {section} seal {tombstone.through}",
            )
            return result
        through_max = tombstone.through
    # Seal seq order; a tombstone right after the seal it purges through.
    walk: list[Digest] = [t for t in tombstones if t.through < first_seq]
    following = {t.through: t for t in tombstones if t.through >= first_seq}
    for seal in seals:
        walk.append(seal)
        if seal.seq in following:
            walk.append(following[seal.seq])

    head: bytes | None = ZERO_HEAD if first_seq == 1 else None  # None: release-1 seals before
    previous: Digest | None = None
    position = 0
    for digest in walk:
        if digest.through is not None and digest.through < first_seq:
            # Purged release-1 seals: nothing to check against but its own signature.
            head = digest.head if digest.through == first_seq - 1 else None
            previous = digest
            continue
        if head is not None and digest.previous != head:
            continues = (
                "32 zero bytes (the chain's first seal)"
                if previous is None
                else f"the head_hash of {previous.name()}"
            )
            result.broken = Broken(
                digest.id,
                f"seal hash mismatch: the previous_head_hash of {digest.name()} is not {continues}",
            )
            return result
        previous = digest
        head = digest.head
        if digest.through is not None:
            continue
        if digest.forged:
            shown = ", ".join(digest.forged[:5]) + (" …" if len(digest.forged) > 5 else "")
            result.broken = Broken(
                digest.id,
                f"forged event {digest.forged[0]}: {digest.name()} lists "
                f"{plural(len(digest.forged), 'event')} written without a valid row MAC "
                f"({shown})",
            )
            return result
        start = bisect.bisect_left(keys, digest.lo, position)
        end = bisect.bisect_right(keys, digest.hi + HIGH, start)
        if start > position:
            if result.seals == 0 and first_seq > 1 and digest.seq == first_seq:
                result.before_digests = start - position
            else:
                stray = id_of_key(keys[position])
                where = (
                    f"before {section} seal {digest.seq}, the chain's first"
                    if result.seals == 0 and digest.seq == 1
                    else f"between {section} seals {digest.seq - 1} and {digest.seq}"
                )
                result.broken = Broken(
                    digest.id,
                    f"event {stray} added inside a sealed range ({where}; digest {digest.id})",
                    (section, keys[position][:KEY_BYTES], digest.hi),
                )
                return result
        present = end - start
        if digest.seq <= through_max and not (
            present
            and (keys[start][:KEY_BYTES] == digest.lo or keys[end - 1][:KEY_BYTES] == digest.hi)
        ):
            if present:
                stray = id_of_key(keys[start])
                result.broken = Broken(
                    digest.id,
                    f"event {stray} added inside a sealed range ({digest.name()}, whose events "
                    "were purged by retention)",
                    (section, digest.lo, digest.hi),
                )
                return result
            result.purged += digest.count
            result.purged_seals += 1
            result.seals += 1
            position = end
            continue
        if present == digest.count:
            hasher = hashlib.sha256(digest.previous)
            hasher.update(seal_header(org, section, digest.seq, digest.count))
            hasher.update(b"".join([key[KEY_BYTES:] for key in keys[start:end]]))
            if hasher.digest() == digest.head:
                result.verified += present
                result.seals += 1
                position = end
                continue
        result.broken = diagnose(digest, keys, start, end, org, export)
        return result
    result.unsealed = len(keys) - position
    return result


def diagnose(
    digest: Digest, keys: list[bytes], start: int, end: int, org: int | None, export: Export
) -> Broken:
    """Name what is wrong inside a seal whose events do not give its head_hash."""
    section, count, present = digest.section, digest.count, end - start
    name = digest.name()
    blame = (section, digest.lo, digest.hi)
    ids = [id_of_key(key) for key in keys[start:end]]
    seen: set[int] = set()
    for ident in ids:
        if ident in seen:
            return Broken(
                digest.id, f"event {ident} added inside a sealed range: its line appears twice "
                f"({name})", blame
            )  # fmt: skip
        seen.add(ident)
    for boundary, which in ((digest.first_id, "first"), (digest.last_id, "last")):
        if boundary in seen:
            continue
        elsewhere = find_event(export, boundary)
        if elsewhere is not None:
            moved_to = elsewhere[1][:32].decode()
            return Broken(
                digest.id,
                f"event {boundary} changed: it was sealed as the {which} event of {name}, and "
                f"its section or occurred_at now put it elsewhere ({elsewhere[0]}, {moved_to})",
                blame,
            )
        if present == 0:
            older = " (or the export is older than the digests)" if end == len(keys) else ""
            return Broken(
                digest.id,
                f"event {boundary} missing (sealed in {name}; all {plural(count, 'event')} "
                f"of that seal, {digest.first_id} to {digest.last_id}, are missing){older}",
                blame,
            )
        return Broken(digest.id, f"event {boundary} missing (sealed in {name})", blame)
    span = f"events {digest.first_id} to {digest.last_id}"
    if present < count:
        return Broken(
            digest.id,
            f"{plural(count - present, 'event')} missing from {name} ({span}: {present} of "
            f"{count} present; the seal signs a hash, not a list, so the missing event "
            "cannot be named offline)",
            blame,
        )
    digests = [key[KEY_BYTES:] for key in keys[start:end]]
    prefix = hashlib.sha256(digest.previous)
    prefix.update(seal_header(org, section, digest.seq, count))
    if present == count + 1:
        joined = memoryview(b"".join(digests))
        for index, ident in enumerate(ids):
            trial = prefix.copy()
            trial.update(joined[(index + 1) * 32 :])
            if trial.digest() == digest.head:
                return Broken(
                    digest.id, f"event {ident} added inside a sealed range ({name})", blame
                )
            prefix.update(digests[index])
    if present > count:
        return Broken(
            digest.id,
            f"{plural(present - count, 'event')} added inside a sealed range ({name}, {span}: "
            f"{present} present, {count} sealed)",
            blame,
        )
    if count == 1:
        return Broken(
            digest.id,
            f"event {ids[0]} changed: its content differs from what was sealed in {name}",
            blame,
        )
    return Broken(
        digest.id,
        f"event changed in {name} ({span}): the {count} events present do not hash to its "
        "head_hash, so at least one differs from what was sealed (the seal signs a hash, not "
        "a list, so the changed event cannot be named offline)",
        blame,
    )


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    def say(text: str) -> None:
        if not args.quiet:
            print(text)

    keys = load_keys(args.public_key)
    documents = load_digests(args.digests)
    with _lines(args.events):
        pass  # a missing export is bad input, before any verdict
    digests, broken = check_digest_chain(documents, keys)
    org = documents[0].get("org_id")
    if broken is not None:
        print(f"BROKEN: {broken.message}")
        return 1
    key_ids = sorted({document["key_id"] for document in documents})
    say(
        f"digests: {len(digests)} ({org_name(org)}), ids 1 to {len(digests)}, signed by key id "
        f"{', '.join(key_ids)}: signatures and previous_digest_hash links verified"
    )

    by_section: dict[str, list[Digest]] = {}
    for digest in digests:
        by_section.setdefault(digest.section, []).append(digest)
    sealed_end: dict[Any, bytes] = {}
    boundary: list[Digest] = []  # seals whose events must be in the export
    for section, chain in by_section.items():
        seals = [digest for digest in chain if digest.through is None]
        through = max((digest.through for digest in chain if digest.through), default=0)
        if seals:
            end = max(seal.hi for seal in seals) + HIGH
            sealed_end[section] = end
            sealed_end[json.dumps(section, ensure_ascii=False)[1:-1].encode()] = end
        boundary += [seal for seal in seals if seal.seq > through]

    export = read_export(args.events, sealed_end)
    if boundary and not any(
        export.holds(seal.section, key) for seal in boundary for key in (seal.lo, seal.hi)
    ):
        raise InputError(
            f"none of the events that the digests of {org_name(org)} seal is in the export: "
            "is it an export of another organisation (or was every sealed event removed)?"
        )
    say(
        f"export: {plural(export.events, 'event')} in "
        f"{plural(len(export.sections), 'section')} ({args.events})"
    )

    results: list[SectionResult] = []
    for section in sorted(set(by_section) | set(export.sections)):
        keys_of = export.sections.get(section, [])
        if section in by_section:
            result = walk_section(section, by_section[section], keys_of, org, export)
        else:
            result = SectionResult(section)
            result.unsealed = len(keys_of)
        results.append(result)
        if result.broken is not None:
            say(f"  {section}: BROKEN at digest {result.broken.digest_id}")
            continue
        parts = [f"{plural(result.seals, 'seal')}", f"{result.verified} events verified"]
        if result.purged_seals:
            parts[0] += f" ({result.purged_seals} purged by retention: {result.purged} events)"
        if result.before_digests:
            parts.append(f"{result.before_digests} sealed before signed digests (not verified)")
        if result.unsealed:
            parts.append(f"{result.unsealed} not yet sealed")
        say(f"  {section}: " + ", ".join(parts))

    broken_at = [result.broken for result in results if result.broken is not None]
    if broken_at:
        first = min(broken_at, key=lambda broken: broken.digest_id)
        message = first.message
        if first.blame is not None:
            lines = locate_lines(args.events, *first.blame)
            message = re.sub(
                r"\bevent (\d+)\b",
                lambda m: (
                    f"event {m.group(1)} (export line {lines[int(m.group(1))]})"
                    if int(m.group(1)) in lines
                    else m.group(0)
                ),
                message,
                count=1,
            )
        print(f"BROKEN: {message}")
        return 1
    unsealed = sum(result.unsealed for result in results)
    before = sum(result.before_digests for result in results)
    if unsealed:
        print(f"{unsealed} events not yet sealed (newer than the last digest)")
    if before:
        print(
            f"{before} events sealed before signed digests (release-1 seals; verify them in the "
            "database)"
        )
    verified = sum(result.verified for result in results)
    purged = sum(result.purged for result in results)
    print(
        f"intact: {verified} events verified against {len(digests)} digests "
        f"({purged} purged by retention)"
    )
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Verify an Auditdesk NDJSON audit-log export against its signed digests.",
        epilog="Exit status: 0 intact, 1 broken (the first broken link), 2 input not verifiable.",
    )
    parser.add_argument("--events", required=True, metavar="EXPORT.ndjson")
    parser.add_argument("--digests", required=True, metavar="DIGESTS", help="file or directory")
    parser.add_argument(
        "--public-key",
        required=True,
        action="append",
        metavar="KEY",
        help="base64 raw Ed25519 public key, or a file with it or a PEM key (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="print the verdict only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if Ed25519PublicKey is None:
            raise InputError("the `cryptography` package is needed: pip install cryptography")
        return run(args)
    except InputError as exc:
        print(f"verify_export: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("verify_export: interrupted", file=sys.stderr)
    except MemoryError:
        print("verify_export: error: out of memory", file=sys.stderr)
    except Exception as exc:
        print(f"verify_export: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
