"""Row MACs: what SQL alone cannot forge (docs/trust.md).

Every audit row carries `mac` = HMAC-SHA256(AUDIT_MAC_KEY, "auditdesk-mac-v1" ‖ canonical
values), computed here before the INSERT. The key lives in the application's environment,
never in the database, so an attacker holding the application's database login can insert
rows but not rows that sealing and verification accept.

Canonical values, in storage.COLUMNS order, each length-prefixed (4 bytes, big-endian;
0xFFFFFFFF for SQL NULL) so no content can shift between fields:
- org_id in decimal; occurred_at in UTC as `YYYY-MM-DDTHH:MM:SS.ffffff`;
- JSON columns re-serialised with sorted keys, no spaces, integral floats as integers (what
  jsonb hands back for `1e16` is the integer), so the text written and the jsonb read back
  give the same bytes;
- ip_address as Python's `ipaddress` writes it; change_id as a lowercase UUID;
- every other column as its UTF-8 text.
The same function runs on the values the recorder writes and on the values sealing reads.
"""

import hashlib
import hmac
import ipaddress
import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from django.conf import settings

VERSION = b"auditdesk-mac-v1"
NULL = b"\xff\xff\xff\xff"
# Positions in storage.COLUMNS (kept in step by a test).
ORG, OCCURRED_AT, CHANGE_ID, IP = 0, 1, 14, 15
JSON_POSITIONS = frozenset({6, 7, 18})
COLUMN_COUNT = 19

_MAYBE_FLOAT = re.compile(rb"[0-9][.eE]")
_LONG_INTEGER = re.compile(rb"[0-9]{16}")


@cache
def _key() -> bytes:
    return settings.AUDIT_MAC_KEY


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise(item) for key, item in value.items()}
    return value


def canonical_json(text: str | bytes | None) -> bytes | None:
    if text is None:
        return None
    raw = text.encode() if isinstance(text, str) else text
    if _LONG_INTEGER.search(raw):
        # orjson reads integers beyond 64 bits as floats: the standard library keeps them.
        value = json.loads(raw)
        return json.dumps(
            _normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    value = orjson.loads(raw)
    if _MAYBE_FLOAT.search(raw):
        value = _normalise(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _time(value: datetime | str) -> bytes:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").encode()


def _ip(value: Any) -> bytes:
    try:
        return str(ipaddress.ip_address(str(value))).encode()
    except ValueError:
        return str(value).encode()


def canonical(values: Sequence[Any]) -> bytes:
    """The MAC's input for one row (values in storage.COLUMNS order, JSON columns as text)."""
    parts = [VERSION]
    for position, value in enumerate(values):
        if value is None:
            parts.append(NULL)
            continue
        if position in JSON_POSITIONS:
            data = canonical_json(value)
        elif position == OCCURRED_AT:
            data = _time(value)
        elif position == IP:
            data = _ip(value)
        elif position == CHANGE_ID:
            data = str(uuid.UUID(str(value))).encode()
        else:
            data = str(value).encode()
        parts.append(len(data).to_bytes(4, "big") + data)
    return b"".join(parts)


def row_mac(values: Sequence[Any], key: bytes | None = None) -> bytes:
    return hmac.new(key or _key(), canonical(values), hashlib.sha256).digest()


def valid(values: Sequence[Any], mac: bytes | memoryview | None, key: bytes | None = None) -> bool:
    if mac is None:
        return False
    return hmac.compare_digest(row_mac(values, key), bytes(mac))


# What sealing and verification read back, in storage.COLUMNS order (JSON as text).
SELECT_COLUMNS = (
    "e.org_id, e.occurred_at, e.event_type, e.action, e.section, e.property, "
    "e.before::text, e.after::text, e.actor_type, e.actor_id, e.actor_name, "
    "e.subject_type, e.subject_id, e.subject_name, e.change_id::text, host(e.ip_address), "
    "e.user_agent, e.request_id, e.metadata::text"
)
