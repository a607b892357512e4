"""The application's restricted role and row-level security on the audit table.

- The role named by `OPTIONS["assume_role"]` (default `auditdesk_app`) is created if missing
  (NOSUPERUSER NOBYPASSRLS NOLOGIN; connections log in as the owner and SET ROLE to it) and
  granted exactly what it needs (auditlog/roles.py; re-applied after every migrate).
- RLS, enabled and forced (so even a non-superuser owner obeys it): a row is visible only
  when its org_id equals the session's `app.org_id`, which the backend keeps equal to the
  audit context's organisation. A query that forgets its tenant filter returns that
  organisation's rows or none, never another's. Inserts are allowed for any organisation:
  the recorder writes the change's organisation, e.g. a sign-in before the request has one.
"""

from django.db import migrations

RLS_SQL = r"""
ALTER TABLE auditlog_auditevent ENABLE ROW LEVEL SECURITY;
ALTER TABLE auditlog_auditevent FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_tenant_read ON auditlog_auditevent FOR SELECT
  USING (org_id = nullif(current_setting('app.org_id', true), '')::bigint);
CREATE POLICY audit_append ON auditlog_auditevent FOR INSERT
  WITH CHECK (true);
-- Used only by audit_purge, which sets app.org_id to the organisation it purges.
CREATE POLICY audit_tenant_purge ON auditlog_auditevent FOR DELETE
  USING (org_id = nullif(current_setting('app.org_id', true), '')::bigint);
"""

UNDO_RLS_SQL = r"""
DROP POLICY IF EXISTS audit_tenant_purge ON auditlog_auditevent;
DROP POLICY IF EXISTS audit_append ON auditlog_auditevent;
DROP POLICY IF EXISTS audit_tenant_read ON auditlog_auditevent;
ALTER TABLE auditlog_auditevent NO FORCE ROW LEVEL SECURITY;
ALTER TABLE auditlog_auditevent DISABLE ROW LEVEL SECURITY;
"""


def create_role(apps, schema_editor):  # noqa: ANN001
    from auditlog.roles import create_app_role

    create_app_role(schema_editor.connection)


def grant(apps, schema_editor):  # noqa: ANN001
    from auditlog.roles import grant_app_role

    grant_app_role(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0006_partitioned_append_only"),
    ]

    operations = [
        migrations.RunPython(create_role, migrations.RunPython.noop),
        migrations.RunSQL([RLS_SQL], [UNDO_RLS_SQL]),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
