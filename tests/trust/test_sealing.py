"""Sealing's fast paths against the definitions they stand in for (docs/trust.md).

Sealing builds each event's export line and MAC input in Python from its columns rather than
have PostgreSQL build the line (auditlog/integrity.py, read_event), writes digests with
orjson (auditlog/digests.py, canonical) and seals organisations in parallel processes. Each
is held here to the slow definition on values chosen to break it: quotes, backslashes,
control characters, DEL, non-ASCII text, floats, integers beyond 64 bits, IPv6 addresses.
"""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connections

from auditlog import digests, integrity, mac, recorder
from auditlog.models import AuditDigest, AuditSeal
from core import context
from core.tenancy import tenant
from demo.management.commands.load_bench_events import missing_sections

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])

TRICKY_TEXT = 'line\nbreak\t"quoted" \\ back\x01\x1f\x7f Zoë 東京 \u2028 end'
TRICKY_VALUES = [
    (TRICKY_TEXT, {"z": 1, "a": [1.5, 2.0, 1e16, -0.0], "é": "東京", "nested": {"b": None}}),
    (12345678901234567890123, [True, False, None, "x\u0000y".replace("\u0000", "")]),
    (None, {"big": -98765432109876543210, "float": 3.25e-7, "": ""}),
    ({"k": TRICKY_TEXT}, None),
]
ADDRESSES = ["203.0.113.9", "2001:db8::1", "::ffff:198.51.100.7", None]


def _record_tricky_events(org_id: int) -> int:
    count = 0
    for (before, after), address in zip(TRICKY_VALUES, ADDRESSES, strict=True):
        with context.use(
            org_id=org_id, ip_address=address, user_agent=TRICKY_TEXT, request_id='r"1\\'
        ):
            recorder.record(
                section="Role Group",
                action="update",
                subject_id=TRICKY_TEXT,
                subject_name=TRICKY_TEXT,
                property="permissions",
                before=before,
                after=after,
                metadata={"note": TRICKY_TEXT, "n": 1.0, "huge": 2**70},
            )
        count += 1
    return count


def test_sealing_reads_each_event_as_postgresql_writes_its_line_and_the_recorder_its_mac(org):
    recorded = _record_tricky_events(org.pk)
    with connections["owner"].cursor() as cursor:  # (app.org_id: the org fixture's context)
        cursor.execute(
            "SELECT audit_event_digest_v2(e), audit_event_line(e), "
            f"{integrity._SEAL_COLUMNS} FROM auditlog_auditevent e WHERE e.org_id = %s",
            [org.pk],
        )
        rows = cursor.fetchall()
    tricky = [row for row in rows if row[2] == "Role Group" and row[1].count("東京") > 1]
    assert len(tricky) == recorded
    for row in rows:
        want_digest, line, section, rest = bytes(row[0]), row[1], row[2], row[3:]
        digest, canonical = integrity.read_event(str(org.pk), section, rest)
        assert digest == want_digest, line
        # The recorder's MAC (made from Python values) verifies against what sealing reads.
        assert mac.valid_canonical(canonical, rest[2]), line
        # A changed byte anywhere does not.
        assert not mac.valid_canonical(canonical + b"x", rest[2])

    sealed = integrity.seal(org_id=org.pk, margin_seconds=0)
    assert sum(seal.event_count for seal in sealed) == len(rows)
    assert all(seal.forged_event_ids == () for seal in sealed)
    out = io.StringIO()
    call_command("verify_audit_chain", org=org.pk, stdout=out)
    assert "intact" in out.getvalue()


def test_a_changed_value_in_a_tricky_event_is_still_named_as_forged(org):
    _record_tricky_events(org.pk)
    from tests.conftest import superuser_connection

    with superuser_connection() as conn:
        conn.execute("ALTER TABLE auditlog_auditevent DISABLE TRIGGER USER")
        conn.execute(
            "UPDATE auditlog_auditevent SET subject_name = subject_name || ' ' "
            "WHERE org_id = %s AND section = 'Role Group' AND host(ip_address) = '2001:db8::1'",
            (org.pk,),
        )
        conn.execute("ALTER TABLE auditlog_auditevent ENABLE TRIGGER USER")
    sealed = integrity.seal(org_id=org.pk, margin_seconds=0)
    forged = [event_id for seal in sealed for event_id in seal.forged_event_ids]
    assert len(forged) == 1


@pytest.mark.parametrize(
    "document",
    [
        {"b": 1, "a": [None, 'x\x01\x1f"\\', "\x7f"], "c": {"z": True, "y": False}},
        {"section": "Zoë 東京", "id": 3},
        {"big": 2**70, "list": [1, 2, 3], "empty": {}, "text": ""},
        {"org_id": None, "head_hash": "ab" * 32, "forged_event_ids": ["1", "22"]},
    ],
)
def test_digest_canonical_bytes_are_the_standard_librarys(document):
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert digests.canonical(document) == expected.encode()


def test_organisations_sealed_in_parallel_processes_make_the_same_chains(org, other_org):
    """Two workers (forked processes) seal every organisation and the platform chain; each
    chain is whole, each seal has its signed digest and the digest files, and verifying from
    the files says intact."""
    for one in (org, other_org):
        with tenant(one):
            _record_tricky_events(one.pk)
    sealed = integrity.seal(margin_seconds=0, workers=2)
    assert {seal.org_id for seal in sealed} >= {org.pk, other_org.pk}
    for one in (org, other_org):
        seals = AuditSeal.objects.using("owner").filter(org_id=one.pk)
        assert seals.count() == len([s for s in sealed if s.org_id == one.pk]) > 0
        assert AuditDigest.objects.using("owner").filter(org_id=one.pk).count() == seals.count()
        files = digests.read_files(one.pk)
        assert [document["id"] for document in files] == list(range(1, seals.count() + 1))
        out = io.StringIO()
        call_command("verify_audit_chain", org=one.pk, digests="files", stdout=out)
        assert "intact" in out.getvalue()


def test_the_bench_loader_covers_every_section_and_action():
    assert missing_sections() == []


def test_the_recorders_mac_input_is_the_definitions():
    """mac.canonical (fast, remembering repeated parts) equals mac.canonical_slow (the
    definition, column by column) on values of every type the recorder hands it."""
    import uuid
    from datetime import UTC, datetime, timedelta, timezone

    base = [
        7,
        datetime(2026, 12, 3, 14, 0, 0, 0, tzinfo=UTC),
        "settings",
        "update",
        "Business Rule",
        "criteria",
        '{"b": 1, "a": [1.0, 2.5, 1e16]}',
        b'{"x": "\\u00e9"}',
        "user",
        17,
        TRICKY_TEXT,
        "business_rule",
        "42",
        TRICKY_TEXT,
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "203.0.113.9",
        TRICKY_TEXT,
        None,
        "{}",
    ]
    variants = [
        {},
        {1: datetime(2026, 12, 3, 15, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))},
        {14: "12345678-1234-5678-1234-567812345678".upper(), 15: "2001:DB8:0:0::1"},
        {15: "not an address", 0: None, 6: None, 7: "null", 18: '{"n": 12345678901234567890123}'},
        {9: None, 12: None, 5: None, 16: "", 17: "r-1"},
    ]
    for changes in variants:
        values = list(base)
        for position, value in changes.items():
            values[position] = value
        for _ in range(2):  # the second time from remembered parts
            assert mac.canonical(values) == mac.canonical_slow(values), changes
