"""SPEC §8.1 attacked directly: arbitrary SQL as the application's login, then as a superuser.

First line of the threat model: an attacker holding the login of `DATABASE_URL` (an SQL
injection, a leaked credential) must not be able, undetected, to UPDATE, DELETE or TRUNCATE
audit rows, seals, digests or chain status; purge anything outside the retention policy in
force; insert an audit row that verification accepts as genuine (in any organisation); or
become the tables' owner or a superuser. Every attack below is sent over a raw psycopg
connection logged in as the application (what an injection gets), and is either refused by
the database or, where SQL alone succeeds, caught: sealing lists the row as forged and
`verify_audit_chain` exits 1 naming it.

Second line: a superuser (or whoever edits a backup) can rewrite rows and seals consistently
inside the database, but not the signed digests outside it, against which verification
reports the first broken link.
"""

import io
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import Organization
from accounts.services import role_group_create, role_group_update
from auditlog import catalog, integrity, retention
from auditlog.models import AuditChainStatus, AuditDigest, AuditEvent, AuditSeal
from auditlog.recorder import record
from auditlog.roles import APP_ROLE, READ_ONLY_TABLES
from core.tenancy import tenant

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])

OWNER_ROLE = "auditdesk_owner"
EVENT_COLUMNS = (
    "org_id, occurred_at, event_type, action, section, property, before, after, actor_type, "
    "actor_id, actor_name, subject_type, subject_id, subject_name, change_id, ip_address, "
    "user_agent, request_id, metadata"
)
# A fake change, as an attacker would write it: everything but a valid MAC.
FORGE = (
    f"INSERT INTO auditlog_auditevent ({EVENT_COLUMNS}, mac) VALUES (%(org)s, "
    "coalesce(%(at)s, now()), %(event_type)s, 'update', %(section)s, %(property)s, %(before)s, "
    "%(after)s, 'user', '1', 'Acme Admin', %(subject_type)s, '1', %(subject)s, "
    "%(change_id)s, '203.0.113.9', 'Mozilla/5.0', NULL, %(metadata)s, %(mac)s)"
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _signing(settings: Any, tmp_path: Path) -> None:
    """Each test signs into its own digest directory (outside the database)."""
    key = Path(settings.AUDIT_SIGNING_KEY)
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    settings.AUDIT_DIGEST_DIR = tmp_path / "digests"


def _conninfo(user: str | None = None, password: str | None = None) -> dict[str, Any]:
    """The test database, logged in as the application (or as `user`)."""
    db = connections["default"].settings_dict
    return {
        "dbname": db["NAME"],
        "user": user or db["USER"],
        "password": (db["PASSWORD"] if user is None else password) or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
    }


@pytest.fixture
def attacker() -> Iterator[Callable[..., psycopg.Connection]]:
    """Raw connections as the application's login, autocommit: what an injection gets."""
    opened: list[psycopg.Connection] = []

    def connect(org_id: int | None = None) -> psycopg.Connection:
        conn = psycopg.connect(autocommit=True, **_conninfo())
        opened.append(conn)
        if org_id is not None:
            set_org(conn, org_id)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture
def superuser() -> Iterator[psycopg.Connection]:
    """A superuser's connection to the test database (DATABASE_ADMIN_URL, else `postgres`)."""
    user, password = "postgres", None
    if os.environ.get("DATABASE_ADMIN_URL"):
        admin = dj_database_url.parse(os.environ["DATABASE_ADMIN_URL"])
        user, password = admin["USER"], admin["PASSWORD"] or None
    try:
        conn = psycopg.connect(autocommit=True, **_conninfo(user, password))
    except psycopg.OperationalError as exc:
        pytest.skip(f"no superuser connection to the test database: {exc}")
    if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
        conn.close()
        pytest.skip(f"{user} is not a superuser")
    yield conn
    conn.close()


def set_org(conn: psycopg.Connection, org_id: int | None) -> None:
    """What any session may do: claim an organisation for row-level security."""
    conn.execute(
        "SELECT set_config('app.org_id', %s, false)", ["" if org_id is None else str(org_id)]
    )


def refused(conn: psycopg.Connection, statement: str, params: Any = None) -> psycopg.Error:
    """Run one statement (its own transaction); it must fail. Returns the refusal."""
    with pytest.raises(psycopg.Error) as refusal:
        conn.execute(statement, params)
    return refusal.value


def assert_insufficient_privilege(error: psycopg.Error, *fragments: str) -> None:
    assert isinstance(error, psycopg.errors.InsufficientPrivilege), repr(error)
    message = str(error)
    assert any(fragment in message for fragment in fragments), message


PRIVILEGE = ("permission denied", "must be owner", "append-only", "row-level security")


def forge(conn: psycopg.Connection, org_id: int | None, **fields: Any) -> int:
    """INSERT a fake Role Group permission grant (or `fields`) without a valid MAC."""
    values = {
        "org": org_id,
        "at": None,
        "event_type": catalog.section("Role Group").event_type,
        "section": "Role Group",
        "property": "permissions",
        "before": Jsonb(["audit.view"]),
        "after": Jsonb(["accounts.manage", "audit.view"]),
        "subject_type": "role_group",
        "subject": "Agent",
        "metadata": Jsonb({}),
        "mac": None,
        "change_id": uuid.uuid4(),
        **fields,
    }
    if org_id is not None:
        return conn.execute(FORGE + " RETURNING id", values).fetchone()[0]
    # RETURNING would need a read policy: the app login reads no platform rows; the owner does.
    conn.execute(FORGE, values)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT id FROM auditlog_auditevent WHERE org_id IS NULL AND change_id = %s",
            [values["change_id"]],
        )
        return cursor.fetchone()[0]


def seal() -> None:
    call_command("seal_audit_chain", margin=0, stdout=io.StringIO())


def verify(**options: Any) -> str:
    out = io.StringIO()
    call_command("verify_audit_chain", stdout=out, **options)
    return out.getvalue()


def broken(**options: Any) -> str:
    """verify_audit_chain must exit 1; returns its message (the first broken link)."""
    with pytest.raises(CommandError) as failure:
        verify(**options)
    assert failure.value.returncode == 1
    return str(failure.value)


def owner_count(table: str) -> int:
    """A table's rows as the owner sees them."""
    with connections["owner"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        return cursor.fetchone()[0]


def events_of(org_id: int) -> int:
    with tenant(org_id):
        return AuditEvent.objects.for_org(org_id).count()


@pytest.fixture
def event(org: Organization) -> AuditEvent:
    """A genuine audit row: a role group's name, written by the application."""
    role_group_create(name="Auditors", permissions=["audit.view"])
    return AuditEvent.objects.for_org(org.pk).get(
        section="Role Group", property="name", subject_name="Auditors"
    )


@pytest.fixture
def partition(event: AuditEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM auditlog_auditevent WHERE id = %s", [event.pk]
        )
        name = cursor.fetchone()[0]
    assert name.startswith("auditlog_auditevent_")
    return name


@pytest.fixture
def sealed(org: Organization, other_org: Organization, event: AuditEvent) -> AuditEvent:
    """Both organisations have sealed history, signed digests and a chain status."""
    with tenant(other_org):
        role_group_create(name="Globex auditors", permissions=[])
    seal()
    assert "intact" in verify()
    assert AuditSeal.objects.filter(org_id=org.pk).exists()
    assert AuditDigest.objects.filter(org_id=org.pk).exists()
    assert AuditChainStatus.objects.filter(org_id=org.pk, verified=True).exists()
    return event


# --------------------------------------------------------------------------- audit rows

ROW_ATTACKS = {
    "update": "UPDATE {table} SET after = '\"Hidden\"' WHERE id = %(id)s",
    "update-all": "UPDATE {table} SET actor_name = 'Someone else'",
    "delete": "DELETE FROM {table} WHERE id = %(id)s",
    "delete-all": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table}",
    "truncate-cascade": "TRUNCATE {table} CASCADE",
    "drop": "DROP TABLE {table}",
}


@pytest.mark.parametrize("target", ["parent table", "partition"])
@pytest.mark.parametrize("attack", list(ROW_ATTACKS))
def test_audit_rows_cannot_be_updated_deleted_or_truncated(
    org, attacker, sealed, partition, attack, target
):
    table = "auditlog_auditevent" if target == "parent table" else partition
    sql = attacker(org.pk)
    statement = ROW_ATTACKS[attack].format(table=table)
    assert_insufficient_privilege(refused(sql, statement, {"id": sealed.pk}), *PRIVILEGE)
    row = sql.execute(
        "SELECT after, actor_name FROM auditlog_auditevent WHERE id = %s", [sealed.pk]
    ).fetchone()
    assert row == ("Auditors", sealed.actor_name)
    assert "intact" in verify(org=org.pk)


def test_setting_the_purge_flag_does_not_let_the_app_delete(org, attacker, sealed, partition):
    """The triggers let DELETE through inside the owner's purge only; the flag is not enough."""
    sql = attacker(org.pk)
    for table in ("auditlog_auditevent", partition):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), sql.transaction():
            sql.execute("SELECT set_config('auditlog.purge', 'on', true)")
            sql.execute(f"DELETE FROM {table} WHERE id = %s", [sealed.pk])  # noqa: S608
    assert events_of(org.pk) > 0
    assert "intact" in verify(org=org.pk)


def test_partitions_cannot_be_detached_or_replaced(org, attacker, sealed, partition):
    sql = attacker(org.pk)
    for statement in (
        f"ALTER TABLE auditlog_auditevent DETACH PARTITION {partition}",
        f"ALTER TABLE {partition} RENAME TO evidence",
        f"ALTER TABLE {partition} DISABLE TRIGGER ALL",
    ):
        assert_insufficient_privilege(refused(sql, statement), "must be owner")


# ------------------------------------------------------------ seals, digests, status, …

READ_ONLY_UPDATES = {
    "auditlog_auditseal": "UPDATE auditlog_auditseal SET hash = prev_hash, forged_event_ids = '[]'",
    "auditlog_auditdigest": (
        "UPDATE auditlog_auditdigest SET document = jsonb_set(document, '{forged_event_ids}', '[]')"
    ),
    "auditlog_auditpurge": "UPDATE auditlog_auditpurge SET events_purged = 0",
    "auditlog_auditchainstatus": (
        "UPDATE auditlog_auditchainstatus SET verified = true, first_broken_link = NULL"
    ),
    # A later horizon would hide unsealed events from the integrity endpoint's bound.
    "auditlog_auditsealrun": "UPDATE auditlog_auditsealrun SET sealed_through = 'infinity'",
    "auditlog_auditretentiondefault": "UPDATE auditlog_auditretentiondefault SET days = 1",
    "auditlog_auditeventdaycount": "UPDATE auditlog_auditeventdaycount SET events = 0",
    "auditlog_auditeventdaymark": "UPDATE auditlog_auditeventdaymark SET through_day = through_day",
}


def test_every_read_only_table_is_attacked_here():
    assert set(READ_ONLY_UPDATES) == set(READ_ONLY_TABLES)


@pytest.mark.parametrize("attack", ["update", "delete", "truncate", "insert-copy", "drop"])
@pytest.mark.parametrize("table", sorted(READ_ONLY_UPDATES))
def test_read_only_tables_cannot_be_changed(org, attacker, sealed, table, attack):
    statement = {
        "update": READ_ONLY_UPDATES[table],
        "delete": f"DELETE FROM {table}",
        "truncate": f"TRUNCATE {table}",
        "insert-copy": f"INSERT INTO {table} SELECT * FROM {table}",  # noqa: S608
        "drop": f"DROP TABLE {table}",
    }[attack]
    before = owner_count(table)
    assert_insufficient_privilege(refused(attacker(org.pk), statement), *PRIVILEGE)
    assert owner_count(table) == before
    assert "intact" in verify(org=org.pk)


def test_forged_seal_digest_and_status_rows_cannot_be_inserted(org, other_org, attacker, sealed):
    sql = attacker(org.pk)
    first = AuditSeal.objects.filter(org_id=org.pk).order_by("section", "seq").first()
    document = AuditDigest.objects.filter(org_id=org.pk).order_by("-seq").first().document
    statements = [
        (
            "INSERT INTO auditlog_auditseal (org_id, section, event_type, seq, first_occurred_at,"
            " first_event_id, last_occurred_at, last_event_id, event_count, prev_hash, hash, "
            "manifest, sealed_at, forged_event_ids, version) VALUES (%s, %s, %s, %s, now(), 1, "
            "now(), 1, 0, %s, %s, '', now(), '[]', 2)",
            [org.pk, first.section, first.event_type, first.seq + 100, first.hash, first.hash],
        ),
        (
            "INSERT INTO auditlog_auditdigest (org_id, seq, section, seal_seq, document, "
            "created_at) VALUES (%s, %s, %s, %s, %s, now())",
            [org.pk, document["id"] + 1, "Role Group", 99, Jsonb({**document, "id": 99})],
        ),
        (
            "INSERT INTO auditlog_auditchainstatus (org_id, checked_at, verified, sealed_events, "
            "checkpoints) VALUES (%s, now(), true, 0, '{}')",
            [other_org.pk],
        ),
        (
            "INSERT INTO auditlog_auditpurge (org_id, section, through_seq, last_hash, "
            "last_occurred_at, last_event_id, seals_purged, events_purged, cutoff, purged_at) "
            "VALUES (%s, %s, %s, %s, now(), 1, 1, 1, now(), now())",
            [org.pk, first.section, first.seq, first.hash],
        ),
        (
            "INSERT INTO auditlog_auditretentiondefault (section, event_type, days) "
            "VALUES ('Evidence', 'settings', 1)",
            None,
        ),
    ]
    for statement, params in statements:
        assert_insufficient_privilege(refused(sql, statement, params), "permission denied")
    assert "intact" in verify()


def test_a_broken_organisation_cannot_be_marked_verified(org, attacker, sealed):
    forged = forge(attacker(org.pk), org.pk)
    seal()
    assert f"event {forged} " in broken(org=org.pk)
    assert AuditChainStatus.objects.get(org_id=org.pk).verified is False
    sql = attacker(org.pk)
    for statement in (
        "UPDATE auditlog_auditchainstatus SET verified = true, first_broken_link = NULL "
        "WHERE org_id = %(org)s",
        "DELETE FROM auditlog_auditchainstatus WHERE org_id = %(org)s",
        "UPDATE auditlog_auditseal SET forged_event_ids = '[]' WHERE org_id = %(org)s",
    ):
        assert_insufficient_privilege(refused(sql, statement, {"org": org.pk}), "permission denied")
    status = AuditChainStatus.objects.get(org_id=org.pk)
    assert status.verified is False
    assert status.first_broken_link["event_id"] == str(forged)


# --------------------------------------------------------------------------- the purge


def test_the_app_login_cannot_call_the_purge(org, attacker, sealed):
    sql = attacker(org.pk)
    for params in ([org.pk, "Role Group", 1], [None, "Session", 1]):
        error = refused(sql, "SELECT audit_purge(%s, %s, %s)", params)
        assert_insufficient_privilege(error, "permission denied for function audit_purge")
    assert AuditSeal.objects.filter(org_id=org.pk, section="Role Group", seq=1).exists()
    assert "intact" in verify(org=org.pk)


PURGE_FUNCTION_ATTACKS = {
    "alter-security-definer": "ALTER FUNCTION audit_purge(bigint, text, bigint) SECURITY DEFINER",
    "alter-owner": "ALTER FUNCTION audit_purge(bigint, text, bigint) OWNER TO current_user",
    "grant-execute": "GRANT EXECUTE ON FUNCTION audit_purge(bigint, text, bigint) TO current_user",
    "grant-execute-public": "GRANT EXECUTE ON FUNCTION audit_purge(bigint, text, bigint) TO PUBLIC",
    "replace": (
        "CREATE OR REPLACE FUNCTION audit_purge(p_org_id bigint, p_section text, "
        "p_through_seq bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint'"
    ),
    "replace-trigger-function": (
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS 'BEGIN RETURN OLD; END'"
    ),
    "drop": "DROP FUNCTION audit_purge(bigint, text, bigint)",
    "drop-trigger": "DROP TRIGGER audit_append_only ON auditlog_auditevent",
}


@pytest.mark.parametrize("attack", list(PURGE_FUNCTION_ATTACKS))
def test_the_purge_and_the_triggers_cannot_be_changed(org, attacker, attack):
    sql = attacker(org.pk)
    error = refused(sql, PURGE_FUNCTION_ATTACKS[attack])
    assert_insufficient_privilege(error, "permission denied", "must be owner")
    may_purge = sql.execute(
        "SELECT has_function_privilege(current_user, 'audit_purge(bigint, text, bigint)', "
        "'EXECUTE'), prosecdef, pg_get_userbyid(proowner) FROM pg_proc "
        "WHERE oid = 'audit_purge(bigint, text, bigint)'::regprocedure"
    ).fetchone()
    assert may_purge == (False, False, OWNER_ROLE)


# --------------------------------------------------------------------------- retention


def _far_future() -> datetime:
    return timezone.now() + timedelta(days=30)


def test_lowering_retention_with_sql_alone_purges_nothing_and_the_audited_change_does(
    org, attacker, sealed
):
    sql = attacker(org.pk)
    # The tables the application writes are writable by the application: by design.
    changed = sql.execute(
        "UPDATE accounts_organization SET audit_retention_days = 1 WHERE id = %s", [org.pk]
    )
    assert changed.rowcount == 1
    for event_type in catalog.EVENT_TYPES:
        sql.execute(
            "INSERT INTO auditlog_auditretention (org_id, event_type, days) VALUES (%s, %s, 1) "
            "ON CONFLICT (org_id, event_type) DO UPDATE SET days = 1",
            [org.pk, event_type],
        )
    events = events_of(org.pk)

    summary = retention.retention_purge(now=_far_future())

    # The policy in force is read from the sealed log only: the display copy changed nothing.
    assert summary.events_purged == 0
    assert events_of(org.pk) == events
    assert "intact" in verify(org=org.pk)

    # The legitimate path: an audited change, sealed, then the purge acts on it.
    retention.retention_set(org, 1)
    policy_event = AuditEvent.objects.for_org(org.pk).get(
        section="Organisation", property="retention_days"
    )
    seal()
    summary = retention.retention_purge(now=_far_future())
    assert summary.events_purged > 0
    assert events_of(org.pk) < events
    tombstones = [
        document
        for document in AuditDigest.objects.filter(org_id=org.pk).values_list("document", flat=True)
        if document["purged"]
    ]
    assert tombstones
    for tombstone in tombstones:
        assert tombstone["purged"]["policy"] == {
            "days": 1,
            "source": "event",
            "event_id": str(policy_event.pk),
        }
    assert "intact" in verify(org=org.pk)


def test_a_forged_retention_change_is_sealed_as_forged_and_ignored_by_the_purge(
    org, attacker, sealed
):
    forged = forge(
        attacker(org.pk),
        org.pk,
        event_type=catalog.section("Organisation").event_type,
        section="Organisation",
        property="retention_days",
        before=Jsonb(None),
        after=Jsonb(1),
        subject_type="organization",
        subject=org.name,
    )
    events = events_of(org.pk)
    # Unsealed, it holds the purge back; sealed, it is named as forged and ignored.
    assert retention.retention_purge(now=_far_future()).events_purged == 0
    seal()
    # Seal 1 holds the organisation's provisioning rows; the forged row is in seal 2.
    latest = AuditSeal.objects.filter(org_id=org.pk, section="Organisation").order_by("-seq")[0]
    assert latest.seq == 2 and str(forged) in latest.forged_event_ids
    assert retention.retention_purge(now=_far_future()).events_purged == 0
    assert events_of(org.pk) == events
    assert f"event {forged} (Organisation chain, seal 2): forged event" in broken(org=org.pk)


def test_a_backdated_forged_retention_change_inside_the_sealed_range_purges_nothing(
    org, attacker, sealed
):
    """An organisation's settings chain is sealed (a legitimate name change); the attacker slips
    a 1-day retention change in before that sealed event. It is inside the sealed range, so it
    is not "pending", and no seal lists it as forged (no seal ever covered it): the policy
    reads only events a seal's manifest holds, so it is ignored, and the purge recomputes the
    seals it would remove, so it does not purge the evidence away either."""
    record(
        section="Organisation",
        action="update",
        subject_type="organization",
        subject_id=org.pk,
        subject_name=org.name,
        property="name",
        before=org.name,
        after="Acme Corporation",
        org_id=org.pk,
    )
    seal()
    sealed_through = AuditSeal.objects.filter(org_id=org.pk, section="Organisation").latest("seq")
    events = events_of(org.pk)
    forged = forge(
        attacker(org.pk),
        org.pk,
        at=sealed_through.last_occurred_at - timedelta(seconds=1),
        event_type=catalog.section("Organisation").event_type,
        section="Organisation",
        property="retention_days",
        before=Jsonb(None),
        after=Jsonb(1),
        subject_type="organization",
        subject=org.name,
    )
    summary = retention.retention_purge(now=_far_future())
    assert summary.events_purged == 0, (
        f"purged {summary.events_purged} events under forged policy event {forged}"
    )
    assert events_of(org.pk) == events + 1  # the forged row stays too: it is the evidence
    assert re.search(
        rf"event {forged} \(Organisation chain, seal \d+\): row added", broken(org=org.pk)
    )


# ------------------------------------------------------------------ forged audit rows


def test_an_insert_for_another_organisation_is_refused_by_row_level_security(
    org, other_org, attacker
):
    sql = attacker(org.pk)
    error = refused(sql, FORGE, _forge_params(other_org.pk))
    assert_insufficient_privilege(error, "row-level security")
    # Nor for the platform chain (no organisation) while the session is the organisation's.
    assert_insufficient_privilege(refused(sql, FORGE, _forge_params(None)), "row-level security")


def _forge_params(org_id: int | None) -> dict[str, Any]:
    return {
        "org": org_id,
        "at": None,
        "event_type": "authorization",
        "section": "Role Group",
        "property": "permissions",
        "before": Jsonb([]),
        "after": Jsonb(["accounts.manage"]),
        "subject_type": "role_group",
        "subject": "Agent",
        "metadata": Jsonb({}),
        "mac": None,
        "change_id": uuid.uuid4(),
    }


def test_a_forged_row_in_another_organisation_is_sealed_as_forged_and_named(
    org, other_org, attacker, sealed
):
    sql = attacker(org.pk)
    set_org(sql, other_org.pk)  # any session may claim any organisation
    forged = forge(sql, other_org.pk)
    seal()
    assert (
        str(forged)
        in AuditSeal.objects.get(org_id=other_org.pk, section="Role Group", seq=2).forged_event_ids
    )
    digest = AuditDigest.objects.filter(org_id=other_org.pk).order_by("-seq").first()
    assert digest.document["forged_event_ids"] == [str(forged)]
    failure = broken(org=other_org.pk)
    assert f"event {forged} (Role Group chain, seal 2): forged event" in failure
    assert "intact" in verify(org=org.pk)


def test_a_forged_row_in_its_own_organisation_is_sealed_as_forged_and_named(org, attacker, sealed):
    forged = forge(attacker(org.pk), org.pk)
    seal()
    assert f"event {forged} (Role Group chain, seal 2): forged event" in broken(org=org.pk)


def test_a_forged_platform_row_is_sealed_as_forged_and_named(org, attacker, sealed):
    sql = attacker()
    set_org(sql, None)
    forged = forge(
        sql,
        None,
        event_type=catalog.section("Session").event_type,
        section="Session",
        property=None,
        before=Jsonb(None),
        after=Jsonb(None),
        subject_type="user",
        subject="admin@acme.test",
        metadata=Jsonb({"email_tried": "admin@acme.test"}),
    )
    assert f"event {forged} (Session chain, seal 0): forged event" in broken(platform=True)
    seal()
    seq = AuditSeal.objects.filter(org_id=None, section="Session").order_by("-seq").first().seq
    assert f"event {forged} (Session chain, seal {seq}): forged event" in broken(platform=True)


def test_an_unsealed_forged_row_is_named_before_sealing(org, attacker, sealed):
    forged = forge(attacker(org.pk), org.pk)
    failure = broken(org=org.pk)
    assert f"event {forged} (Role Group chain, seal 0): forged event" in failure
    assert "an unsealed event was not written by the application" in failure


def test_a_row_with_a_genuine_rows_mac_and_one_field_changed_is_named(org, attacker, event):
    sql = attacker(org.pk)
    forged = sql.execute(
        f"INSERT INTO auditlog_auditevent ({EVENT_COLUMNS}, mac) SELECT "
        + EVENT_COLUMNS.replace("after,", "'\"Administrators\"'::jsonb,")
        + ", mac FROM auditlog_auditevent WHERE id = %s RETURNING id",
        [event.pk],
    ).fetchone()[0]
    assert f"event {forged} (Role Group chain, seal 0): forged event" in broken(org=org.pk)
    seal()
    assert f"event {forged} (Role Group chain, seal 1): forged event" in broken(org=org.pk)


def test_a_forged_row_slipped_into_a_sealed_range_is_named(org, attacker, sealed):
    first = AuditSeal.objects.get(org_id=org.pk, section="Role Group", seq=1)
    forged = forge(attacker(org.pk), org.pk, at=first.first_occurred_at)
    assert f"event {forged} (Role Group chain, seal 1): row added" in broken(org=org.pk)


def test_an_exact_replay_of_a_genuine_row_is_not_accepted(org, attacker, event):
    """Copying every value and the MAC of a genuine row (a role group's creation, a sign-in)
    makes the log say it happened twice."""
    sql = attacker(org.pk)
    try:
        replay = sql.execute(
            f"INSERT INTO auditlog_auditevent ({EVENT_COLUMNS}, mac) SELECT {EVENT_COLUMNS}, mac "
            "FROM auditlog_auditevent WHERE id = %s RETURNING id",
            [event.pk],
        ).fetchone()[0]
    except psycopg.Error:
        return  # refused: as good as detected
    seal()
    assert f"event {replay} " in broken(org=org.pk)


# ------------------------------------------------------------- owner, superuser, roles


def test_reset_role_returns_to_the_app_login_which_is_no_superuser(org, attacker):
    sql = attacker(org.pk)
    sql.execute("RESET ROLE")
    sql.execute("RESET SESSION AUTHORIZATION")
    row = sql.execute(
        "SELECT current_user, session_user, rolsuper, rolbypassrls, rolcreaterole, "
        "rolcreatedb, pg_has_role(current_user, %s, 'MEMBER'), "
        "pg_has_role(current_user, %s, 'USAGE') FROM pg_roles WHERE rolname = current_user",
        [OWNER_ROLE, APP_ROLE],
    ).fetchone()
    login = connections["default"].settings_dict["USER"]
    assert row == (login, login, False, False, False, False, False, True)
    # SET ROLE to its own group works and gains nothing.
    sql.execute(f"SET ROLE {APP_ROLE}")
    assert_insufficient_privilege(refused(sql, "TRUNCATE auditlog_auditevent"), "permission denied")


ESCALATIONS = {
    "set-role-owner": f"SET ROLE {OWNER_ROLE}",
    "set-role-postgres": "SET ROLE postgres",
    "set-local-role-owner": f"SET LOCAL ROLE {OWNER_ROLE}",
    "session-authorization": "SET SESSION AUTHORIZATION postgres",
    "session-authorization-owner": f"SET SESSION AUTHORIZATION {OWNER_ROLE}",
    "grant-owner": f"GRANT {OWNER_ROLE} TO current_user",
    "grant-postgres": "GRANT postgres TO current_user",
    "grant-pg-read-all-stats": "GRANT pg_read_all_stats TO current_user",
    "alter-superuser": "ALTER ROLE current_user SUPERUSER",
    "alter-bypassrls": "ALTER ROLE current_user BYPASSRLS",
    "alter-createrole": "ALTER ROLE current_user CREATEROLE",
    "create-role": "CREATE ROLE auditdesk_attacker SUPERUSER LOGIN",
    "replication-role": "SET session_replication_role = replica",
    "disable-trigger": "ALTER TABLE auditlog_auditevent DISABLE TRIGGER audit_append_only",
    "disable-trigger-seal": "ALTER TABLE auditlog_auditseal DISABLE TRIGGER ALL",
    "disable-rls": "ALTER TABLE auditlog_auditevent DISABLE ROW LEVEL SECURITY",
    "no-force-rls": "ALTER TABLE auditlog_auditevent NO FORCE ROW LEVEL SECURITY",
    "drop-policy": "DROP POLICY audit_append ON auditlog_auditevent",
    "create-policy": (
        "CREATE POLICY audit_anything ON auditlog_auditevent FOR ALL USING (true) WITH CHECK (true)"
    ),
    "alter-table-owner": "ALTER TABLE auditlog_auditevent OWNER TO current_user",
    "create-table": "CREATE TABLE public.auditdesk_attacker (id int)",
    "create-table-default-schema": "CREATE TABLE auditdesk_attacker (id int)",
    "create-schema": "CREATE SCHEMA auditdesk_attacker",
    "copy-to-program": "COPY (SELECT 1) TO PROGRAM 'true'",
    "read-server-file": "SELECT pg_read_file('PG_VERSION')",
}


@pytest.mark.parametrize("attack", list(ESCALATIONS))
def test_the_app_login_cannot_become_owner_or_superuser(org, attacker, attack):
    sql = attacker(org.pk)
    error = refused(sql, ESCALATIONS[attack])
    assert_insufficient_privilege(
        error, "permission denied", "must be owner", "must be superuser", "must have admin option"
    )
    row = sql.execute(
        "SELECT current_user, rolsuper, rolbypassrls, pg_has_role(current_user, %s, 'MEMBER') "
        "FROM pg_roles WHERE rolname = current_user",
        [OWNER_ROLE],
    ).fetchone()
    assert row == (connections["default"].settings_dict["USER"], False, False, False)
    assert sql.execute("SELECT to_regclass('public.auditdesk_attacker')").fetchone()[0] is None


def test_row_security_cannot_be_switched_off(org, attacker, event):
    sql = attacker(org.pk)
    sql.execute("SET row_security = off")
    error = refused(sql, "SELECT count(*) FROM auditlog_auditevent")
    assert_insufficient_privilege(error, "row-level security")


def test_a_temporary_table_is_refused(org, attacker, event):
    """A temporary table named like the audit table would shadow it in the session that made
    it: the application's login may not create temporary tables at all."""
    sql = attacker(org.pk)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary tables"):
        sql.execute(
            "CREATE TEMP TABLE auditlog_auditevent (LIKE public.auditlog_auditevent INCLUDING ALL)"
        )
    assert events_of(org.pk) > 0
    seal()
    assert "intact" in verify(org=org.pk)


# ------------------------------------------------------------ the application's session


def _real_rows(sql: psycopg.Connection, org_id: int, subject: str) -> int:
    """Rows of `subject` in the real audit table, read on another session."""
    return sql.execute(
        "SELECT count(*) FROM public.auditlog_auditevent WHERE org_id = %s AND subject_name = %s",
        [org_id, subject],
    ).fetchone()[0]


@pytest.fixture
def fresh_app_session() -> Iterator[None]:
    """The application's own connection, new (what an injection in one request leaves
    behind lives in the session until it closes); discarded afterwards."""
    connections["default"].close()
    yield
    connections["default"].close()


def test_an_injected_temporary_table_cannot_swallow_later_audit_rows(
    org, attacker, fresh_app_session
):
    with pytest.raises(DatabaseError, match="temporary tables"), transaction.atomic():
        with connection.cursor() as cursor:  # the injection runs in the application's session
            cursor.execute(
                "CREATE TEMP TABLE auditlog_auditevent "
                "(LIKE public.auditlog_auditevent INCLUDING ALL)"
            )
    role_group_create(name="After the injection", permissions=["audit.view"])
    assert _real_rows(attacker(org.pk), org.pk, "After the injection") > 0


def test_an_injected_prepared_statement_cannot_swallow_later_audit_rows(
    org, attacker, fresh_app_session
):
    role_group_create(name="Before the injection", permissions=[])
    assert _real_rows(attacker(org.pk), org.pk, "Before the injection") > 0
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE auditdesk_audit_rows")
        cursor.execute("PREPARE auditdesk_audit_rows (jsonb) AS SELECT $1")
    try:
        role_group_create(name="After the injection", permissions=["audit.view"])
    except Exception:  # noqa: BLE001 - a refused write is a detected attack
        return
    assert _real_rows(attacker(org.pk), org.pk, "After the injection") > 0


# ------------------------------------------------------------------- confidentiality


def test_another_organisations_rows_are_readable_after_claiming_it(org, other_org, attacker):
    """A stated limit (README, threat model): with one shared login, row-level security keys on
    a session setting any session may change, so SQL injection reads every organisation.
    What the log guarantees against this attacker is integrity, not confidentiality."""
    with tenant(other_org):
        role_group_create(name="Globex secret project", permissions=[])
    sql = attacker(org.pk)
    query = "SELECT count(*) FROM auditlog_auditevent WHERE subject_name = 'Globex secret project'"
    assert sql.execute(query).fetchone()[0] == 0
    set_org(sql, other_org.pk)
    assert sql.execute(query).fetchone()[0] > 0


# ------------------------------------------------------------ a database superuser


def _reseal(su: psycopg.Connection, org_id: int, section: str) -> None:
    """Recompute every seal of a chain from the rows as they now are, as integrity.py does."""
    prev = integrity.GENESIS
    seals = su.execute(
        "SELECT seq, event_type, first_occurred_at, first_event_id, last_occurred_at, "
        "last_event_id FROM auditlog_auditseal WHERE org_id = %s AND section = %s ORDER BY seq",
        [org_id, section],
    ).fetchall()
    for seq, event_type, first_at, first_id, last_at, last_id in seals:
        rows = su.execute(
            "SELECT e.id, audit_event_digest_v2(e) FROM auditlog_auditevent e "
            "WHERE e.org_id = %s AND e.section = %s AND e.event_type = %s "
            "AND (e.occurred_at, e.id) >= (%s, %s) AND (e.occurred_at, e.id) <= (%s, %s) "
            "ORDER BY e.occurred_at, e.id",
            [org_id, section, event_type, first_at, first_id, last_at, last_id],
        ).fetchall()
        ids = [row[0] for row in rows]
        digests = [bytes(row[1]) for row in rows]
        head = integrity.seal_hash(prev, org_id, section, seq, digests)
        su.execute(
            "UPDATE auditlog_auditseal SET prev_hash = %s, hash = %s, manifest = %s "
            "WHERE org_id = %s AND section = %s AND seq = %s",
            [prev, head, integrity.manifest_of(ids, digests), org_id, section, seq],
        )
        prev = head


@pytest.fixture
def two_seals(org: Organization) -> list[AuditSeal]:
    """The Role Group chain holds two seals."""
    group = role_group_create(name="Auditors", permissions=["audit.view"])
    seal()
    role_group_update(group=group, name="Senior auditors")
    seal()
    seals = list(AuditSeal.objects.filter(org_id=org.pk, section="Role Group").order_by("seq"))
    assert [s.seq for s in seals] == [1, 2]
    assert "intact" in verify(org=org.pk)
    return seals


def test_a_superuser_rewriting_rows_and_seals_consistently_is_caught_by_the_signed_digests(
    org, superuser, two_seals
):
    target = AuditEvent.objects.for_org(org.pk).get(
        section="Role Group", property="name", action="create", subject_name="Auditors"
    )
    superuser.execute("SET session_replication_role = replica")  # triggers off
    superuser.execute(
        "UPDATE auditlog_auditevent SET after = '\"Nobody\"' WHERE id = %s", [target.pk]
    )
    _reseal(superuser, org.pk, "Role Group")
    superuser.execute("RESET session_replication_role")
    assert bytes(AuditSeal.objects.get(pk=two_seals[0].pk).hash) != bytes(two_seals[0].hash)
    # The database alone is consistent again: the rewrite is invisible without the digests.
    assert "intact" in verify(org=org.pk, digests="none")
    failure = broken(org=org.pk)
    assert "(Role Group chain, seal 1): seal changed" in failure
    assert (
        f"the seal of events {two_seals[0].first_event_id}..{two_seals[0].last_event_id} "
        "differs from signed digest"
    ) in failure
    # The signed copies stored in the database catch it as well.
    assert "differs from signed digest" in broken(org=org.pk, digests="database")


def test_a_superuser_removing_the_newest_seal_and_its_events_is_caught(org, superuser, two_seals):
    newest = two_seals[-1]
    superuser.execute("SET session_replication_role = replica")
    removed = superuser.execute(
        "DELETE FROM auditlog_auditevent WHERE org_id = %s AND section = %s "
        "AND (occurred_at, id) >= (%s, %s) AND (occurred_at, id) <= (%s, %s)",
        [
            org.pk,
            newest.section,
            newest.first_occurred_at,
            newest.first_event_id,
            newest.last_occurred_at,
            newest.last_event_id,
        ],
    ).rowcount
    assert removed == newest.event_count
    superuser.execute("DELETE FROM auditlog_auditseal WHERE id = %s", [newest.pk])
    superuser.execute(
        "DELETE FROM auditlog_auditdigest WHERE org_id = %s AND section = %s AND seal_seq = %s",
        [org.pk, newest.section, newest.seq],
    )
    superuser.execute("RESET session_replication_role")
    assert "intact" in verify(org=org.pk, digests="none")
    failure = broken(org=org.pk)
    assert f"event {newest.first_event_id} (Role Group chain, seal 2): seal missing" in failure
    assert f"covers seal 2 (events {newest.first_event_id}..{newest.last_event_id})" in failure
