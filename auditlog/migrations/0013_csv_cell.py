"""`audit_csv_cell(…)`: a CSV cell a spreadsheet will not evaluate (SPEC 8.2, OWASP).

A cell whose text starts with `=`, `+`, `-`, `@`, tab (9) or carriage return (13) gets a
leading `'`; any other, NULL included, is left as it is. The CSV exports, streamed and
background, build every cell with it inside their COPY's SELECT (auditlog/exports.py).

Two one-expression SQL functions, which the planner inlines (no call per cell):
- `audit_csv_cell(text)` for the text columns;
- `audit_csv_cell(jsonb)` for the JSON columns, written as JSON text: only a negative number
  can start with one of those characters (a string starts with `"`), and the test is made on
  the jsonb value, so the text is made once per cell, not once to test and once to write.
"""

from django.db import migrations

CSV_CELL_SQL = r"""
CREATE OR REPLACE FUNCTION audit_csv_cell(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE WHEN ascii(value) IN (61, 43, 45, 64, 9, 13) THEN '''' || value ELSE value END
$fn$;

CREATE OR REPLACE FUNCTION audit_csv_cell(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
  SELECT CASE WHEN jsonb_typeof(value) = 'number' AND value < '0'::jsonb
              THEN '''' || value::text ELSE value::text END
$fn$;
"""

DROP_SQL = """
DROP FUNCTION IF EXISTS audit_csv_cell(text);
DROP FUNCTION IF EXISTS audit_csv_cell(jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0012_trust_two_logins_digests"),
    ]

    operations = [
        migrations.RunSQL(CSV_CELL_SQL, DROP_SQL),
    ]
