"""Audit rows are append-only in the database: the app's login cannot change them, nor can the owner.

The application logs in as a member of `auditdesk_app`: SELECT and INSERT on the audit table
only. Triggers refuse UPDATE, DELETE and TRUNCATE for everyone, the tables' owner included,
except inside the owner's retention purge (`audit_purge`). tests/trust/test_attacks.py
attacks the application's login with everything else an SQL injection could try.
"""

import pytest
from django.db import DatabaseError, connection, connections, transaction

from accounts.services import role_group_create
from auditlog.models import AuditEvent
from auditlog.roles import APP_ROLE

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def _partition_of(event: AuditEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM auditlog_auditevent WHERE id = %s", [event.pk]
        )
        return cursor.fetchone()[0]


def _refused(statement: str, params: list | None = None, using: str = "default") -> str:
    """Run a statement in a savepoint; return the database's refusal (fail if it succeeds)."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            cursor.execute(statement, params)
    return str(refusal.value)


@pytest.fixture
def event(org) -> AuditEvent:
    role_group_create(name="Auditors", permissions=["audit.view"])
    return AuditEvent.objects.for_org(org.pk).get(
        section="Role Group", property="name", subject_name="Auditors"
    )


def test_the_application_logs_in_as_a_restricted_member_of_the_app_role(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, "
            "pg_has_role(current_user, %s, 'USAGE'), "
            "(SELECT array_agg(g.rolname) FROM pg_auth_members m JOIN pg_roles g "
            "   ON g.oid = m.roleid WHERE m.member = r.oid) "
            "FROM pg_roles r WHERE rolname = current_user",
            [APP_ROLE],
        )
        assert cursor.fetchone() == (False, False, False, False, True, [APP_ROLE])
        privileges = {}
        for table in (
            "auditlog_auditevent",
            "auditlog_auditseal",
            "auditlog_auditdigest",
            "auditlog_auditchainstatus",
            "auditlog_auditpurge",
            "accounts_rolegroup",
        ):
            cursor.execute(
                "SELECT array_agg(p ORDER BY p) FROM unnest(ARRAY['SELECT','INSERT','UPDATE',"
                "'DELETE','TRUNCATE']) AS p WHERE has_table_privilege(current_user, %s, p)",
                [table],
            )
            privileges[table] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT has_function_privilege(current_user, 'audit_purge(bigint, text, bigint)', "
            "'EXECUTE')"
        )
        may_purge = cursor.fetchone()[0]
    assert privileges == {
        "auditlog_auditevent": ["INSERT", "SELECT"],
        "auditlog_auditseal": ["SELECT"],
        "auditlog_auditdigest": ["SELECT"],
        "auditlog_auditchainstatus": ["SELECT"],
        "auditlog_auditpurge": ["SELECT"],
        "accounts_rolegroup": ["DELETE", "INSERT", "SELECT", "UPDATE"],
    }
    assert may_purge is False


def test_update_delete_and_truncate_through_the_app_connection_raise(org, event):
    partition = _partition_of(event)
    for statement in (
        "UPDATE auditlog_auditevent SET after = '\"Hidden\"' WHERE id = %s",
        "DELETE FROM auditlog_auditevent WHERE id = %s",
        f"UPDATE {partition} SET after = '\"Hidden\"' WHERE id = %s",
        f"DELETE FROM {partition} WHERE id = %s",
    ):
        assert "permission denied" in _refused(statement, [event.pk])
    assert "permission denied" in _refused("TRUNCATE auditlog_auditevent")
    assert "permission denied" in _refused(f"TRUNCATE {partition}")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.for_org(org.pk).update(after="Hidden")
    event.refresh_from_db()
    assert event.after == "Auditors"


def test_even_the_tables_owner_cannot_change_or_remove_audit_rows(org, event):
    partition = _partition_of(event)
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT set_config('app.org_id', %s, false)", [str(org.pk)])
    # Row-level security has no UPDATE policy: the owner's UPDATE finds no row to change.
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE auditlog_auditevent SET after = '\"Hidden\"' WHERE id = %s", [event.pk]
        )
        assert cursor.rowcount == 0
    for statement in (
        "DELETE FROM auditlog_auditevent WHERE id = %s",
        f"DELETE FROM {partition} WHERE id = %s",
        f"UPDATE {partition} SET after = '\"Hidden\"' WHERE id = %s",
    ):
        assert "append-only" in _refused(statement, [event.pk], using="owner")
    for table in ("auditlog_auditevent", partition, "auditlog_auditseal", "auditlog_auditdigest"):
        assert "append-only" in _refused(f"TRUNCATE {table}", using="owner")
    # The purge flag alone is not enough to change a row: UPDATE is never allowed.
    with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute("SELECT set_config('auditlog.purge', 'on', true)")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using="owner"):
            cursor.execute(f"UPDATE {partition} SET after = '\"Hidden\"' WHERE id = %s", [event.pk])
    event.refresh_from_db()
    assert event.after == "Auditors"


def test_a_role_that_is_not_the_owner_cannot_fake_the_purge(org, event):
    """Even granted DELETE, a role that sets the purge flag itself is refused: only the owner
    (who runs the purge) may delete, and only with the flag on."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS auditdesk_test_forger")
        cursor.execute("CREATE ROLE auditdesk_test_forger NOLOGIN")
        cursor.execute("GRANT auditdesk_test_forger TO current_user")
        cursor.execute("GRANT SELECT, DELETE ON auditlog_auditevent TO auditdesk_test_forger")
    try:
        with transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
            cursor.execute("SET LOCAL ROLE auditdesk_test_forger")
            cursor.execute("SELECT set_config('auditlog.purge', 'on', true)")
            cursor.execute("SELECT set_config('app.org_id', %s, true)", [str(org.pk)])
            with pytest.raises(DatabaseError, match="append-only"):
                with transaction.atomic(using="owner"):
                    cursor.execute("DELETE FROM auditlog_auditevent WHERE id = %s", [event.pk])
    finally:
        with connections["owner"].cursor() as cursor:
            cursor.execute("REVOKE ALL ON auditlog_auditevent FROM auditdesk_test_forger")
            cursor.execute("DROP ROLE auditdesk_test_forger")
    assert AuditEvent.objects.for_org(org.pk).filter(pk=event.pk).exists()


def test_the_app_login_may_not_call_the_purge(org, event):
    assert "permission denied" in _refused(
        "SELECT audit_purge(%s, %s, %s)", [org.pk, "Role Group", 1]
    )
    assert AuditEvent.objects.for_org(org.pk).filter(pk=event.pk).exists()


def test_flush_between_tests_empties_the_audit_tables_as_the_owner(org):
    """TransactionTestCase flushes through our `flush` (the owner's login, purge flag)."""
    from django.core.management import call_command

    assert AuditEvent.objects.for_org(org.pk).exists()
    call_command("flush", interactive=False, verbosity=0)
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ONLY auditlog_auditevent_default")
        cursor.execute(
            "SELECT sum(n_live_tup) FROM pg_stat_user_tables WHERE relname LIKE 'auditlog_auditevent%%'"
        )
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT set_config('app.org_id', %s, false)", [str(org.pk)])
        cursor.execute("SELECT count(*) FROM auditlog_auditevent")
        assert cursor.fetchone()[0] == 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user <> (SELECT tableowner FROM pg_tables "
            "WHERE tablename = 'auditlog_auditseal')"
        )
        assert cursor.fetchone()[0] is True
