"""Tenant keys: an agent status row and its user are enforced with org_id.

Django cannot declare composite foreign keys, so the single-column one is dropped
(db_constraint=False) and (org_id, user_id) -> accounts_user (org_id, id) is added here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COMPOSITE_FOREIGN_KEYS = """
ALTER TABLE worksession_agentstatus ADD CONSTRAINT agentstatus_user_same_org FOREIGN KEY (org_id, user_id)
  REFERENCES accounts_user (org_id, id) DEFERRABLE INITIALLY DEFERRED;
"""
DROP_COMPOSITE_FOREIGN_KEYS = """
ALTER TABLE worksession_agentstatus DROP CONSTRAINT IF EXISTS agentstatus_user_same_org;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_tenant_keys"),
        ("worksession", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="agentstatus",
            name="user",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="agent_status",
                serialize=False,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunSQL(COMPOSITE_FOREIGN_KEYS, DROP_COMPOSITE_FOREIGN_KEYS),
    ]
