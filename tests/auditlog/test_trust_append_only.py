"""Audit rows are append-only in the database: the app's role cannot change them, nor can the owner.

The application runs as `auditdesk_app` (SET ROLE on each connection): SELECT and INSERT on
the audit table only. Triggers refuse UPDATE, DELETE and TRUNCATE for everyone, the tables'
owner included, except inside the retention purge (`audit_purge`).
"""

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.services import role_group_create
from auditlog.models import AuditEvent
from auditlog.roles import owner_mode


def _partition_of(event_id: int) -> str:
    with owner_mode(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM auditlog_auditevent WHERE id = %s", [event_id]
        )
        return cursor.fetchone()[0]


def _refused(statement: str, params: list | None = None) -> str:
    """Run a statement in a savepoint; return the database's refusal (fail if it succeeds)."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
    return str(refusal.value)


@pytest.fixture
def event(org) -> AuditEvent:
    role_group_create(name="Auditors", permissions=["audit.view"])
    return AuditEvent.objects.for_org(org.pk).get(
        section="Role Group", property="name", subject_name="Auditors"
    )


def test_the_application_runs_as_a_restricted_role(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles "
            "WHERE rolname = current_user"
        )
        assert cursor.fetchone() == ("auditdesk_app", False, False, False)
        privileges = {}
        for table in ("auditlog_auditevent", "auditlog_auditseal", "accounts_rolegroup"):
            cursor.execute(
                "SELECT array_agg(p ORDER BY p) FROM unnest(ARRAY['SELECT','INSERT','UPDATE',"
                "'DELETE','TRUNCATE']) AS p WHERE has_table_privilege(current_user, %s, p)",
                [table],
            )
            privileges[table] = cursor.fetchone()[0]
    assert privileges == {
        "auditlog_auditevent": ["INSERT", "SELECT"],
        "auditlog_auditseal": ["SELECT"],
        "accounts_rolegroup": ["DELETE", "INSERT", "SELECT", "UPDATE"],
    }


def test_update_delete_and_truncate_through_the_app_connection_raise(org, event):
    partition = _partition_of(event.pk)
    for statement in (
        "UPDATE auditlog_auditevent SET after = '\"Hidden\"' WHERE id = %s",
        "DELETE FROM auditlog_auditevent WHERE id = %s",
        f"UPDATE {partition} SET after = '\"Hidden\"' WHERE id = %s",
        f"DELETE FROM {partition} WHERE id = %s",
    ):
        assert "permission denied" in _refused(statement, [event.pk])
    assert "permission denied" in _refused("TRUNCATE auditlog_auditevent")
    assert "permission denied" in _refused(f"TRUNCATE {partition}")
    # The ORM is no way round it either.
    assert "permission denied" in _refused(
        "DELETE FROM auditlog_auditevent WHERE org_id = %s", [org.pk]
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.for_org(org.pk).update(after="Hidden")
    event.refresh_from_db()
    assert event.after == "Auditors"


def test_even_the_tables_owner_cannot_change_or_remove_audit_rows(org, event):
    partition = _partition_of(event.pk)
    with owner_mode():
        for statement in (
            "UPDATE auditlog_auditevent SET after = '\"Hidden\"' WHERE id = %s",
            "DELETE FROM auditlog_auditevent WHERE id = %s",
            f"DELETE FROM {partition} WHERE id = %s",
        ):
            assert "append-only" in _refused(statement, [event.pk])
        for table in ("auditlog_auditevent", partition, "auditlog_auditseal"):
            assert "append-only" in _refused(f"TRUNCATE {table}")
        # The purge flag alone is not enough to change a row: UPDATE is never allowed.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('auditlog.purge', 'on', true)")
        assert "append-only" in _refused(
            "UPDATE auditlog_auditevent SET after = '\"Hidden\"' WHERE id = %s", [event.pk]
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('auditlog.purge', '', true)")
    event.refresh_from_db()
    assert event.after == "Auditors"


def test_a_role_that_is_not_the_owner_cannot_fake_the_purge(org, event):
    """Even granted DELETE, a role that sets the purge flag itself is refused: only the owner
    (which `audit_purge` runs as) may delete, and only with the flag on."""
    with owner_mode(), connection.cursor() as cursor:
        cursor.execute("CREATE ROLE auditdesk_test_forger NOLOGIN")
        cursor.execute("GRANT SELECT, DELETE ON auditlog_auditevent TO auditdesk_test_forger")
        cursor.execute("SET ROLE auditdesk_test_forger")
        cursor.execute("SELECT set_config('auditlog.purge', 'on', true)")
        cursor.execute("SELECT set_config('app.org_id', %s, false)", [str(org.pk)])
        assert "append-only" in _refused(
            "DELETE FROM auditlog_auditevent WHERE id = %s", [event.pk]
        )
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT set_config('auditlog.purge', '', true)")
    assert AuditEvent.objects.for_org(org.pk).filter(pk=event.pk).exists()


def test_the_app_role_may_call_the_purge_but_it_removes_nothing_within_retention(org, event):
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_purge(%s, %s)", [org.pk, "Role Group"])
        assert cursor.fetchone()[0] == 0
    assert AuditEvent.objects.for_org(org.pk).filter(pk=event.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_flush_between_tests_empties_the_audit_tables_as_the_owner(org):
    """TransactionTestCase flushes through our `flush` (owner mode, purge flag)."""
    from django.core.management import call_command

    assert AuditEvent.objects.for_org(org.pk).exists()
    call_command("flush", interactive=False, verbosity=0)
    with owner_mode():
        assert not AuditEvent.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == "auditdesk_app"
