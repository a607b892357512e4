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

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

log = logging.getLogger(__name__)

VERSION = "auditdesk-digest-v1"


class SigningKeyError(RuntimeError):
    """The signing key is missing or unreadable: sealing cannot sign, so it does not seal."""


def canonical(document: dict[str, Any]) -> bytes:
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
    unsigned = {**document, "key_id": _public(key.public_key()).key_id}
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


def file_path(org_id: int | None, seq: int) -> Path:
    return chain_dir(org_id) / f"{seq:012d}.json"


def write_file(document: dict[str, Any]) -> Path:
    """Write a digest's file once (atomically); an existing file is left as it is."""
    path = file_path(document["org_id"], document["id"])
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(canonical(document) + b"\n")
    os.replace(temporary, path)
    return path


def read_files(org_id: int | None) -> list[dict[str, Any]]:
    """An organisation's digest files, in id order (unreadable files raise ValueError)."""
    directory = chain_dir(org_id)
    if not directory.is_dir():
        return []
    documents = []
    for path in sorted(directory.glob("*.json")):
        try:
            documents.append(json.loads(path.read_bytes()))
        except ValueError as exc:
            raise ValueError(f"digest file {path} is not valid JSON: {exc}") from None
    return sorted(documents, key=lambda document: document.get("id", 0))
