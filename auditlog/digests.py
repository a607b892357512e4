"""Signed digests (docs/trust.md): Ed25519 over each seal's head hash, outside the database.

The private key is a PEM file (`AUDIT_SIGNING_KEY`) that only the sealing and purge jobs
read; the database never holds it, so whoever rewrites rows and seals in the database (a
superuser, an edited backup) cannot make digests that match. Each organisation's digests
form a chain (`previous_digest_hash`), like CloudTrail's digest files, and are written to
AUDIT_DIGEST_DIR as files as well as stored (read-only to the application).
"""

import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

log = logging.getLogger(__name__)

VERSION = "auditdesk-digest-v1"


class SigningKeyError(RuntimeError):
    """The signing key is missing or unreadable: sealing cannot sign, so it does not seal."""


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a digest is signed and hashed as: JSON with sorted keys, no spaces, ASCII
    (what scripts/verify_export.py makes with the standard library). orjson writes the same
    bytes for an ASCII document without DEL (the standard library escapes it), several times
    faster: sealing signs a digest per seal."""
    try:
        data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        if data.isascii() and b"\x7f" not in data:
            return data
    except TypeError:  # an integer beyond 64 bits
        pass
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def document_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@cache
def _private_key(path: str) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(
            f"AUDIT_SIGNING_KEY {path!r} cannot be read ({exc.strerror}); create one with "
            "`openssl genpkey -algorithm ed25519 -out PATH` (make run does)"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"AUDIT_SIGNING_KEY {path!r} is not a PEM private key: {exc}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"AUDIT_SIGNING_KEY {path!r} is not an Ed25519 key")
    return key


@cache
def _key_id(key: Ed25519PrivateKey) -> str:
    return _public(key.public_key()).key_id


def private_key() -> Ed25519PrivateKey:
    return _private_key(str(settings.AUDIT_SIGNING_KEY))


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    raw: bytes
    key: Ed25519PublicKey

    @property
    def base64(self) -> str:
        return base64.b64encode(self.raw).decode()


def _public(key: Ed25519PublicKey) -> PublicKey:
    raw = raw_public_key(key)
    return PublicKey(key_id_of(raw), raw, key)


def current_public_key() -> PublicKey | None:
    """The signing key's public half, or None when no signing key is configured here."""
    try:
        return _public(private_key().public_key())
    except SigningKeyError:
        return None


def public_keys() -> dict[str, PublicKey]:
    """Every key a digest may be signed with: the current one and AUDIT_VERIFY_KEYS."""
    keys: dict[str, PublicKey] = {}
    current = current_public_key()
    if current is not None:
        keys[current.key_id] = current
    for text in settings.AUDIT_VERIFY_KEYS:
        try:
            raw = base64.b64decode(text, validate=True)
            key = _public(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            log.warning("AUDIT_VERIFY_KEYS: %r is not a base64 raw Ed25519 public key", text)
            continue
        keys[key.key_id] = key
    return keys


def sign(document: dict[str, Any]) -> dict[str, Any]:
    """The document with `key_id` and `signature` added."""
    key = private_key()
    unsigned = {**document, "key_id": _key_id(key)}
    unsigned.pop("signature", None)
    signature = key.sign(canonical(unsigned))
    return {**unsigned, "signature": base64.b64encode(signature).decode()}


def signature_problem(document: dict[str, Any], keys: dict[str, PublicKey]) -> str | None:
    """None when the document's signature is valid under one of `keys`, else what is wrong."""
    key = keys.get(document.get("key_id", ""))
    if key is None:
        return f"it is signed with an unknown key {document.get('key_id')!r}"
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    try:
        key.key.verify(base64.b64decode(document.get("signature", "")), canonical(unsigned))
    except (InvalidSignature, ValueError):
        return "its signature does not verify"
    return None


# --------------------------------------------------------------------------- files


def chain_dir(org_id: int | None) -> Path:
    return Path(settings.AUDIT_DIGEST_DIR) / ("platform" if org_id is None else str(int(org_id)))


def file_name(first: int, last: int) -> str:
    """The file of digests `first..last`: one per sealing run (or purge), one document a line."""
    return f"{first:012d}-{last:012d}.ndjson"


def _range_of(name: str) -> tuple[int, int] | None:
    """The ids a digest file holds, by its name (`first-last.ndjson`, or a release-2 beta's
    `id.json`); None for anything else."""
    stem, _, suffix = name.partition(".")
    try:
        if suffix == "ndjson":
            first, last = stem.split("-")
            return int(first), int(last)
        if suffix == "json":
            return int(stem), int(stem)
    except ValueError:
        return None
    return None


def file_ranges(org_id: int | None) -> list[tuple[int, int]]:
    """The id ranges of a chain's digest files, by their names, in order."""
    directory = chain_dir(org_id)
    if not directory.is_dir():
        return []
    return sorted(filter(None, (_range_of(name) for name in os.listdir(directory))))


def write_file(documents: list[dict[str, Any]], encoded: list[bytes] | None = None) -> Path:
    """Write consecutive digests of one chain as one file, once (atomically); an existing
    file is left as it is. `encoded`: their canonical bytes, when the caller has them."""
    first, last = documents[0], documents[-1]
    path = chain_dir(first["org_id"]) / file_name(first["id"], last["id"])
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = encoded if encoded is not None else [canonical(document) for document in documents]
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(b"".join(line + b"\n" for line in lines))
    os.replace(temporary, path)
    return path


def read_files(org_id: int | None) -> list[dict[str, Any]]:
    """An organisation's digests from its files, in id order (unreadable files raise
    ValueError)."""
    directory = chain_dir(org_id)
    if not directory.is_dir():
        return []
    documents = []
    for name in sorted(os.listdir(directory)):
        if _range_of(name) is None:
            continue
        path = directory / name
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(
                    f"digest file {path} line {number} is not valid JSON: {exc}"
                ) from None
    return sorted(documents, key=lambda document: document.get("id", 0))
