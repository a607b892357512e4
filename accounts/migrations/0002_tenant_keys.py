"""Tenant keys: relations between tenant rows are enforced with org_id (Citus-ready).

Django cannot declare composite foreign keys, so the single-column ones are dropped
(db_constraint=False) and (org_id, …) -> (org_id, id) ones are added here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COMPOSITE_FOREIGN_KEYS = """
ALTER TABLE accounts_user ADD CONSTRAINT user_role_group_same_org FOREIGN KEY (org_id, role_group_id)
  REFERENCES accounts_rolegroup (org_id, id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE accounts_apitoken ADD CONSTRAINT apitoken_created_by_same_org FOREIGN KEY (org_id, created_by_id)
  REFERENCES accounts_user (org_id, id) DEFERRABLE INITIALLY DEFERRED;
"""
DROP_COMPOSITE_FOREIGN_KEYS = """
ALTER TABLE accounts_user DROP CONSTRAINT IF EXISTS user_role_group_same_org;
ALTER TABLE accounts_apitoken DROP CONSTRAINT IF EXISTS apitoken_created_by_same_org;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="role_group",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="users",
                to="accounts.rolegroup",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolegroup",
            constraint=models.UniqueConstraint(fields=("org", "id"), name="rolegroup_org_id"),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(fields=("org", "id"), name="user_org_id"),
        ),
        migrations.RunSQL(COMPOSITE_FOREIGN_KEYS, DROP_COMPOSITE_FOREIGN_KEYS),
    ]
