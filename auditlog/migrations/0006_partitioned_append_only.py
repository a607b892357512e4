"""The audit table becomes append-only and partitioned by month on occurred_at.

- `auditlog_auditevent` is rebuilt as `PARTITION BY RANGE (occurred_at)`: monthly partitions
  `auditlog_auditevent_pYYYYMM` (UTC months) plus a DEFAULT partition as a safety net. The
  database's primary key is (id, occurred_at), as partitioning requires; Django's model
  state keeps `id` as the primary key (ids come from one sequence, so they stay unique).
  The same indexes are created on the parent, existing rows are moved, and the id sequence
  continues where it was.
- `audit_ensure_partition(month)` creates a month's partition; rows that already landed in
  the DEFAULT partition for that month are moved into it (auditlog.partitions runs it ahead).
- A BEFORE UPDATE OR DELETE row trigger and a BEFORE TRUNCATE statement trigger (on the
  parent and on every partition) refuse any change to audit rows, whoever sends it. The one
  exception is the retention purge: DELETE and TRUNCATE pass when the transaction-local flag
  `auditlog.purge` is on AND the current role owns the table, which the application's role
  never does (it reaches the purge only through the SECURITY DEFINER `audit_purge`).
"""

from django.db import migrations

APPEND_ONLY_SQL = r"""
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE')
     AND current_setting('auditlog.purge', true) = 'on'
     AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
  THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Expired events are removed only by the retention purge (audit_purge).';
END
$fn$;

CREATE OR REPLACE FUNCTION audit_harden_partition(p_name text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  -- Statement triggers are not inherited: TRUNCATE of one partition needs its own.
  EXECUTE format(
    'CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON %I '
    'FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()', p_name);
  -- Partitions are reached through the parent, whose grants and policies apply; read
  -- directly, they show nothing to anyone but their owner.
  EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', p_name);
  EXECUTE format('REVOKE ALL ON %I FROM PUBLIC', p_name);
END
$fn$;

CREATE OR REPLACE FUNCTION audit_ensure_partition(p_month date) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
  lo timestamptz := date_trunc('month', p_month::timestamp) AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', p_month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
  part text := 'auditlog_auditevent_p' || to_char(p_month, 'YYYYMM');
  columns text;
  purge_flag text := coalesce(current_setting('auditlog.purge', true), '');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  IF EXISTS (SELECT 1 FROM auditlog_auditevent_default WHERE occurred_at >= lo AND occurred_at < hi) THEN
    -- Rows that arrived before their month had a partition: build it beside the table,
    -- move them in, and attach it (the CHECK spares ATTACH a scan of the new table).
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
      FROM pg_attribute
     WHERE attrelid = 'auditlog_auditevent'::regclass AND attnum > 0
       AND NOT attisdropped AND attgenerated = '';
    EXECUTE format(
      'CREATE TABLE %I (LIKE auditlog_auditevent INCLUDING DEFAULTS INCLUDING GENERATED '
      'INCLUDING STORAGE, CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L))',
      part, part || '_range', lo, hi);
    EXECUTE format(
      'INSERT INTO %I (%s) SELECT %s FROM auditlog_auditevent_default '
      'WHERE occurred_at >= $1 AND occurred_at < $2', part, columns, columns)
      USING lo, hi;
    PERFORM set_config('auditlog.purge', 'on', true);
    DELETE FROM auditlog_auditevent_default WHERE occurred_at >= lo AND occurred_at < hi;
    PERFORM set_config('auditlog.purge', purge_flag, true);
    EXECUTE format(
      'ALTER TABLE auditlog_auditevent ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
      part, lo, hi);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_range');
  ELSE
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF auditlog_auditevent FOR VALUES FROM (%L) TO (%L)',
      part, lo, hi);
  END IF;
  PERFORM audit_harden_partition(part);
  RETURN part;
END
$fn$;
"""

PARTITION_SQL = r"""
DO $do$
DECLARE
  index_defs text[];
  index_def text;
  old_sequence regclass;
  new_sequence regclass;
  last_id bigint;
  first_month date;
  month date;
  columns text;
BEGIN
  LOCK TABLE auditlog_auditevent IN ACCESS EXCLUSIVE MODE;
  -- The secondary indexes as they are now (whoever added them), to rebuild on the parent.
  SELECT coalesce(array_agg(pg_get_indexdef(i.indexrelid) ORDER BY c.relname), '{}')
    INTO index_defs
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = 'auditlog_auditevent'::regclass AND NOT i.indisprimary;
  old_sequence := pg_get_serial_sequence('auditlog_auditevent', 'id')::regclass;

  ALTER TABLE auditlog_auditevent RENAME TO auditlog_auditevent_unpartitioned;
  ALTER TABLE auditlog_auditevent_unpartitioned
    RENAME CONSTRAINT auditlog_auditevent_pkey TO auditlog_auditevent_unpartitioned_pkey;

  CREATE TABLE auditlog_auditevent (
    LIKE auditlog_auditevent_unpartitioned
    INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE
  ) PARTITION BY RANGE (occurred_at);
  ALTER TABLE auditlog_auditevent
    ADD CONSTRAINT auditlog_auditevent_pkey PRIMARY KEY (id, occurred_at);
  CREATE TABLE auditlog_auditevent_default PARTITION OF auditlog_auditevent DEFAULT;
  PERFORM audit_harden_partition('auditlog_auditevent_default');

  -- A partition for every month that has rows, and for this month and the next three.
  SELECT date_trunc('month', min(occurred_at) AT TIME ZONE 'UTC')::date INTO first_month
    FROM auditlog_auditevent_unpartitioned;
  month := least(coalesce(first_month, current_date), date_trunc('month', now() AT TIME ZONE 'UTC')::date);
  WHILE month <= (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months')::date LOOP
    PERFORM audit_ensure_partition(month);
    month := (month + interval '1 month')::date;
  END LOOP;

  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
    FROM pg_attribute
   WHERE attrelid = 'auditlog_auditevent'::regclass AND attnum > 0
     AND NOT attisdropped AND attgenerated = '';
  EXECUTE format(
    'INSERT INTO auditlog_auditevent (%s) SELECT %s FROM auditlog_auditevent_unpartitioned',
    columns, columns);

  -- Keep counting ids where the old table stopped.
  new_sequence := pg_get_serial_sequence('auditlog_auditevent', 'id')::regclass;
  SELECT pg_sequence_last_value(old_sequence) INTO last_id;
  IF last_id IS NOT NULL THEN
    PERFORM setval(new_sequence, last_id, true);
  END IF;
  DROP TABLE auditlog_auditevent_unpartitioned;
  EXECUTE format('ALTER SEQUENCE %s RENAME TO auditlog_auditevent_id_seq', new_sequence);

  FOREACH index_def IN ARRAY index_defs LOOP
    EXECUTE index_def;
  END LOOP;

  CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON auditlog_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
  CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON auditlog_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
END
$do$;
ANALYZE auditlog_auditevent;
"""


class Migration(migrations.Migration):
    # One transaction: the table is never seen half-converted.
    atomic = True

    dependencies = [
        ("auditlog", "0005_write_path_indexes"),
    ]

    operations = [
        # Lists, so each script reaches PostgreSQL whole (no splitting inside $fn$ bodies).
        migrations.RunSQL([APPEND_ONLY_SQL]),
        migrations.RunSQL([PARTITION_SQL]),
    ]
