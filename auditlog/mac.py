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
import struct
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


@cache
def _keyed() -> "hmac.HMAC":
    """HMAC-SHA256 with the key absorbed once: each MAC copies it (faster than keying anew)."""
    return hmac.new(_key(), digestmod=hashlib.sha256)


def _mac_of(data: bytes, key: bytes | None) -> bytes:
    if key is not None:
        return hmac.digest(key, data, "sha256")
    h = _keyed().copy()
    h.update(data)
    return h.digest()


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


def utc_text(value: datetime) -> str:
    """A time as canonical() writes it (and UTC_TEXT_SQL): `YYYY-MM-DDTHH:MM:SS.ffffff`, UTC."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:26]


def _time(value: datetime | str) -> bytes:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return utc_text(value).encode()


def _ip(value: Any) -> bytes:
    try:
        return str(ipaddress.ip_address(str(value))).encode()
    except ValueError:
        return str(value).encode()


def canonical_slow(values: Sequence[Any]) -> bytes:
    """canonical(), column by column as the definition above reads (tests hold the fast
    paths to it)."""
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


_IP_TEXTS: dict[str, str] = {}


def canonical(values: Sequence[Any]) -> bytes:
    """The MAC's input for one row (values in storage.COLUMNS order, JSON columns as text):
    the recorder's, on the write path, so repeated parts come from canonical_texts' memory."""
    texts = [value if value is None or isinstance(value, str) else str(value) for value in values]
    at = values[OCCURRED_AT]
    if at is not None:
        texts[OCCURRED_AT] = _time(at).decode()
    change = values[CHANGE_ID]
    if change is not None and not isinstance(change, uuid.UUID):
        texts[CHANGE_ID] = str(uuid.UUID(str(change)))
    ip = texts[IP]
    if ip is not None:
        spelled = _IP_TEXTS.get(ip)
        if spelled is None:
            spelled = _ip(ip).decode()
            if len(_IP_TEXTS) < _REMEMBERED:
                _IP_TEXTS[ip] = spelled
        texts[IP] = spelled
    for position in JSON_POSITIONS:
        if isinstance(values[position], bytes):
            texts[position] = values[position]
    return canonical_texts(texts)


_U32 = struct.Struct(">I").pack


def ip_text(value: str) -> str:
    """An IP address as canonical() spells it (Python's ipaddress)."""
    return _ip(value).decode()


# Parts of canonical() already made, by value: an audit log repeats its values (event types,
# actions, names, `{}`), and sealing makes a part for each of every event's 19 columns.
_TEXT_PARTS: dict[str, bytes] = {}
_JSON_PARTS: dict[str, bytes] = {}
_REMEMBER = 200  # values up to this long
_REMEMBERED = 100_000  # parts, at most (each)


def _text_part(value: str) -> bytes:
    data = value.encode()
    part = _U32(len(data)) + data
    if len(value) <= _REMEMBER and len(_TEXT_PARTS) < _REMEMBERED:
        _TEXT_PARTS[value] = part
    return part


def _json_part(value: str) -> bytes:
    data = canonical_json(value)
    part = _U32(len(data)) + data
    if len(value) <= _REMEMBER and len(_JSON_PARTS) < _REMEMBERED:
        _JSON_PARTS[value] = part
    return part


def canonical_texts(values: Sequence[str | None]) -> bytes:
    """canonical() of a row from its values as text, in storage.COLUMNS order: the time as
    utc_text(), JSON columns as JSON text, the IP address as ip_text() (the same bytes).
    Written out column by column: sealing runs it for every event."""
    t, j = _TEXT_PARTS.get, _JSON_PARTS.get
    (org, at, et, ac, se, pr, be, af, aty, aid, anm, sty, sid, snm, ci, ip, ua, ri, me) = values
    return b"".join(
        (
            VERSION,
            NULL if org is None else (t(org) or _text_part(org)),
            NULL if at is None else _U32(len(at)) + at.encode(),  # unique: not remembered
            NULL if et is None else (t(et) or _text_part(et)),
            NULL if ac is None else (t(ac) or _text_part(ac)),
            NULL if se is None else (t(se) or _text_part(se)),
            NULL if pr is None else (t(pr) or _text_part(pr)),
            NULL if be is None else (j(be) or _json_part(be)),
            NULL if af is None else (j(af) or _json_part(af)),
            NULL if aty is None else (t(aty) or _text_part(aty)),
            NULL if aid is None else (t(aid) or _text_part(aid)),
            NULL if anm is None else (t(anm) or _text_part(anm)),
            NULL if sty is None else (t(sty) or _text_part(sty)),
            NULL if sid is None else (t(sid) or _text_part(sid)),
            NULL if snm is None else (t(snm) or _text_part(snm)),
            NULL if ci is None else _U32(len(ci)) + ci.encode(),  # unique (ASCII)
            NULL if ip is None else (t(ip) or _text_part(ip)),
            NULL if ua is None else (t(ua) or _text_part(ua)),
            NULL if ri is None else (t(ri) or _text_part(ri)),
            NULL if me is None else (j(me) or _json_part(me)),
        )
    )


UTC_TEXT_SQL = """to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""


def valid_canonical(data: bytes, mac: bytes | None, key: bytes | None = None) -> bool:
    if mac is None:
        return False
    return hmac.compare_digest(_mac_of(data, key), bytes(mac))


def row_mac(values: Sequence[Any], key: bytes | None = None) -> bytes:
    return _mac_of(canonical(values), key)


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
