"""Row MACs, signed digests, the platform chain and incremental verification (docs/trust.md)."""

import base64
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import api_token_create, role_group_create, role_group_update
from auditlog import digests, integrity, mac, recorder
from auditlog.models import AuditDigest, AuditEvent, AuditSeal
from conversations.services import customer_create
from core import context
from core.tenancy import tenant
from tests.conftest import superuser_connection

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])

ROOT = Path(__file__).resolve().parents[2]


def _seal(**options) -> str:
    out = io.StringIO()
    call_command("seal_audit_chain", margin=0, stdout=out, **options)
    return out.getvalue()


def _verify(**options) -> str:
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out, **options)
    return out.getvalue()


def _key(path: Path) -> Path:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


@pytest.fixture
def history(org, other_org):
    group = role_group_create(name="Auditors", permissions=["audit.view"])
    role_group_update(group=group, name="Senior auditors", permissions=["audit.view", "x"])
    customer_create(name='Zoë Ørsted, "VIP" – 東京', email="zoe@example.test")
    with tenant(other_org):
        role_group_create(name="Globex auditors", permissions=[])
    assert "Sealed" in _seal()
    return AuditEvent.objects.for_org(org.pk)


# --------------------------------------------------------------------------- MACs


AWKWARD = [
    ("big integer", 123456789012345678901234567890),
    ("integral float", 1e16),
    ("small float", 1.5e-7),
    ("nested", {"b": [1.0, 2.5, {"z": None, "a": "é – 東京"}], "a": True}),
    ("quotes and escapes", 'He said "hi"\n\ttab\\slash\u2028'),
]


@pytest.mark.parametrize("label,value", AWKWARD)
def test_every_row_written_carries_a_mac_that_verifies_from_what_is_read_back(org, label, value):
    with context.use(org_id=org.pk, ip_address="2001:DB8::1", user_agent='UA, "quoted"'):
        recorder.record(
            section="Customer",
            action="update",
            subject_id=1,
            subject_name=label,
            property="tags",
            before=value,
            after=[value],
            metadata={"value": value},
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.mac, {mac.SELECT_COLUMNS} FROM auditlog_auditevent e "
            "WHERE e.org_id = %s AND e.subject_name = %s",
            [org.pk, label],
        )
        row = cursor.fetchone()
    assert row[0] is not None and len(bytes(row[0])) == 32
    assert mac.valid(row[1:], row[0])
    # Any change to any value, or another key, and it no longer verifies.
    changed = list(row[1:])
    changed[13] = label + "!"
    assert not mac.valid(changed, row[0])
    assert not mac.valid(row[1:], row[0], key=b"another key")


# --------------------------------------------------------------------------- digests


def test_each_seal_has_a_signed_digest_chained_to_the_previous_and_written_as_a_file(
    org, history, settings
):
    seals = list(AuditSeal.objects.filter(org_id=org.pk).order_by("id"))
    documents = list(
        AuditDigest.objects.filter(org_id=org.pk).order_by("seq").values_list("document", flat=True)
    )
    assert len(documents) == len(seals) > 1
    # One file per sealing run, a document a line, named by the ids it holds.
    files = sorted(path.name for path in digests.chain_dir(org.pk).iterdir())
    assert files and all(name.endswith(".ndjson") for name in files)
    on_disk = digests.read_files(org.pk)
    keys = digests.public_keys()
    previous = None
    for number, (seal, document) in enumerate(zip(seals, documents, strict=True), start=1):
        assert document["id"] == number and document["org_id"] == org.pk
        assert (document["section"], document["seal_seq"]) == (seal.section, seal.seq)
        assert document["head_hash"] == bytes(seal.hash).hex()
        assert document["previous_head_hash"] == bytes(seal.prev_hash).hex()
        assert document["event_count"] == seal.event_count
        assert digests.signature_problem(document, keys) is None
        assert document["previous_digest_hash"] == (
            None if previous is None else digests.document_hash(previous)
        )
        previous = document
        assert on_disk[number - 1] == document
    # One changed character and the signature no longer holds.
    forged = {**documents[0], "event_count": documents[0]["event_count"] + 1}
    assert digests.signature_problem(forged, keys) == "its signature does not verify"


def test_the_integrity_api_publishes_the_key_and_pages_the_digests(org, other_org, history):
    _, token = api_token_create(name="Auditor", scopes=["audit:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = client.get("/api/v1/audit-integrity/").json()
    current = digests.current_public_key()
    assert body["verified"] is True
    assert body["public_key"] == current.base64 and body["key_id"] == current.key_id
    assert base64.b64decode(body["public_key"]) == current.raw
    assert body["digests_url"].endswith("/api/v1/audit-integrity/digests/")

    ours = AuditDigest.objects.filter(org_id=org.pk).count()
    seen, url = [], "/api/v1/audit-integrity/digests/?page_size=2"
    while url:
        page = client.get(url).json()
        seen += page["results"]
        url = page["next"]
    assert [d["id"] for d in seen] == list(range(1, ours + 1))
    assert {d["org_id"] for d in seen} == {org.pk}  # never another organisation's
    everything = client.get("/api/v1/audit-integrity/digests/download/")
    assert everything.status_code == 200
    assert json.loads(b"".join(everything.streaming_content)) == seen
    bad = client.get("/api/v1/audit-integrity/digests/?cursor=garbage")
    assert bad.status_code == 400
    assert "cursor" in bad.json()["error"]["params"]


def test_sealing_without_a_signing_key_seals_nothing_and_says_why(org, settings, tmp_path):
    role_group_create(name="Waiting", permissions=[])
    settings.AUDIT_SIGNING_KEY = tmp_path / "missing.pem"
    with pytest.raises(CommandError, match="AUDIT_SIGNING_KEY .* cannot be read"):
        _seal()
    assert not AuditSeal.objects.filter(org_id=org.pk).exists()


def test_a_rotated_key_leaves_older_digests_verifiable(org, settings, tmp_path):
    role_group_create(name="Before rotation", permissions=[])
    settings.AUDIT_SIGNING_KEY = _key(tmp_path / "a.pem")
    _seal()
    old = digests.current_public_key()
    settings.AUDIT_SIGNING_KEY = _key(tmp_path / "b.pem")
    role_group_create(name="After rotation", permissions=[])
    _seal()
    key_ids = set(
        AuditDigest.objects.filter(org_id=org.pk).values_list("document__key_id", flat=True)
    )
    assert len(key_ids) == 2
    with pytest.raises(CommandError, match="unknown key"):
        _verify(org=org.pk)
    settings.AUDIT_VERIFY_KEYS = [old.base64]
    assert "intact" in _verify(org=org.pk)
    keys = Client().get  # the API lists both keys
    _, token = api_token_create(name="Auditor", scopes=["audit:read"])
    body = keys("/api/v1/audit-integrity/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert {k["key_id"] for k in body["public_keys"]} == key_ids


# --------------------------------------------------------------------------- platform chain


def test_sign_in_attempts_for_unknown_emails_are_sealed_in_the_platform_chain(org, settings):
    Client(REMOTE_ADDR="203.0.113.5").post(
        "/accounts/login/", {"username": "nobody@nowhere.test", "password": "wrong-password"}
    )
    _seal(platform=True)
    seal = AuditSeal.objects.using("owner").get(org_id=None, section="Session")
    assert seal.event_count == 1 and seal.forged_event_ids == []
    assert AuditDigest.objects.filter(org_id=None).count() == 1
    assert [document["id"] for document in digests.read_files(None)] == [1]
    assert "Platform chain: intact, 1 sealed events" in _verify(platform=True)

    with superuser_connection() as conn:
        conn.execute("ALTER TABLE auditlog_auditevent DISABLE TRIGGER audit_append_only")
        conn.execute(
            'UPDATE auditlog_auditevent SET metadata = \'{"email": "someone@else.test"}\' '
            "WHERE org_id IS NULL"
        )
        conn.execute("ALTER TABLE auditlog_auditevent ENABLE TRIGGER audit_append_only")
    with pytest.raises(CommandError, match="Platform chain: .*row changed"):
        _verify(platform=True)


# --------------------------------------------------------------------------- incremental


def test_the_integrity_endpoint_recomputes_only_seals_after_the_checkpoint(org, history):
    _, token = api_token_create(name="Auditor", scopes=["audit:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def seal_hash_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/audit-integrity/").json()["verified"] is True
        return sum("string_agg" in query["sql"] for query in queries.captured_queries)

    seals = AuditSeal.objects.filter(org_id=org.pk).count()
    assert seal_hash_queries() == seals  # no checkpoint yet: every seal
    integrity.verify(org.pk, save=True)  # the owner's job keeps the checkpoint
    assert seal_hash_queries() == 0
    role_group_create(name="One more", permissions=[])
    _seal(org=org.pk)
    new = AuditSeal.objects.filter(org_id=org.pk).count() - seals
    assert new >= 1
    assert seal_hash_queries() == new  # only the new seals


# --------------------------------------------------------------------------- offline


def _export(client: Client, org) -> tuple[bytes, bytes, str]:
    response = client.get("/api/v1/audit-events/export.ndjson")
    assert response.status_code == 200
    events = b"".join(response.streaming_content)
    download = client.get("/api/v1/audit-integrity/digests/download/")
    documents = b"".join(download.streaming_content)
    key = client.get("/api/v1/audit-integrity/").json()["public_key"]
    return events, documents, key


def _verify_offline(tmp_path: Path, events: bytes, documents: bytes, key: str):
    (tmp_path / "events.ndjson").write_bytes(events)
    (tmp_path / "digests.json").write_bytes(documents)
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "verify_export.py"),
            "--events",
            str(tmp_path / "events.ndjson"),
            "--digests",
            str(tmp_path / "digests.json"),
            "--public-key",
            key,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_export_verifies_offline_and_a_superusers_consistent_rewrite_does_not(
    org, history, admin, tmp_path
):
    client = Client()
    client.force_login(admin)
    before = datetime.now(UTC)
    events, documents, key = _export(client, org)
    result = _verify_offline(tmp_path, events, documents, key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact" in result.stdout

    # A superuser rewrites a sealed row and recomputes its seal so the database agrees.
    target = history.get(section="Role Group", property="name", action="update")
    seal = AuditSeal.objects.get(org_id=org.pk, section="Role Group", seq=1)
    with superuser_connection() as conn:
        conn.execute("ALTER TABLE auditlog_auditevent DISABLE TRIGGER audit_append_only")
        conn.execute(
            "UPDATE auditlog_auditevent SET after = '\"Junior auditors\"' WHERE id = %s",
            [target.pk],
        )
        conn.execute("ALTER TABLE auditlog_auditevent ENABLE TRIGGER audit_append_only")
        conn.execute("SELECT set_config('app.org_id', %s, false)", [str(org.pk)])
        rows = conn.execute(
            "SELECT e.id, audit_event_digest_v2(e) FROM auditlog_auditevent e "
            "WHERE e.org_id = %s AND e.section = 'Role Group' AND (e.occurred_at, e.id) <= "
            "(%s, %s) ORDER BY e.occurred_at, e.id",
            [org.pk, seal.last_occurred_at, seal.last_event_id],
        ).fetchall()
        rehashed = integrity.seal_hash(
            bytes(seal.prev_hash), org.pk, "Role Group", 1, [bytes(r[1]) for r in rows]
        )
        conn.execute("ALTER TABLE auditlog_auditseal DISABLE TRIGGER audit_append_only")
        conn.execute(
            "UPDATE auditlog_auditseal SET hash = %s, manifest = %s WHERE id = %s",
            [
                rehashed,
                integrity.manifest_of([r[0] for r in rows], [bytes(r[1]) for r in rows]),
                seal.pk,
            ],
        )
        conn.execute("ALTER TABLE auditlog_auditseal ENABLE TRIGGER audit_append_only")
    assert "intact" in _verify(org=org.pk, digests="none")  # the database alone agrees
    with pytest.raises(CommandError) as failure:
        _verify(org=org.pk)
    assert "Role Group chain, seal 1): seal changed" in str(failure.value)
    assert "differs from signed digest" in str(failure.value)

    events, documents, key = _export(client, org)
    result = _verify_offline(tmp_path, events, documents, key)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout + result.stderr
    assert before < datetime.now(UTC)
