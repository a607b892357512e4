"""Tenant keys: a conversation's customer and assignee are enforced with org_id.

Django cannot declare composite foreign keys, so the single-column ones are dropped
(db_constraint=False) and (org_id, …) -> (org_id, id) ones are added here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COMPOSITE_FOREIGN_KEYS = """
ALTER TABLE conversations_conversation ADD CONSTRAINT conversation_customer_same_org FOREIGN KEY (org_id, customer_id)
  REFERENCES conversations_customer (org_id, id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE conversations_conversation ADD CONSTRAINT conversation_assignee_same_org FOREIGN KEY (org_id, assigned_to_id)
  REFERENCES accounts_user (org_id, id) DEFERRABLE INITIALLY DEFERRED;
"""
DROP_COMPOSITE_FOREIGN_KEYS = """
ALTER TABLE conversations_conversation DROP CONSTRAINT IF EXISTS conversation_customer_same_org;
ALTER TABLE conversations_conversation DROP CONSTRAINT IF EXISTS conversation_assignee_same_org;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_tenant_keys"),
        ("conversations", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="conversation",
            name="assigned_to",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="assigned_conversations",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="customer",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="conversations",
                to="conversations.customer",
            ),
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.UniqueConstraint(fields=("org", "id"), name="customer_org_id"),
        ),
        migrations.RunSQL(COMPOSITE_FOREIGN_KEYS, DROP_COMPOSITE_FOREIGN_KEYS),
    ]
