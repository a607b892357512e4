"""AuditSealRun: the horizon of each organisation's last sealing run (read-only to the app)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("auditlog", "0014_anonymous_actor")]

    operations = [
        migrations.CreateModel(
            name="AuditSealRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("org_id", models.BigIntegerField(null=True)),
                ("sealed_through", models.DateTimeField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("org_id",), name="auditsealrun_org", nulls_distinct=False
                    )
                ],
            },
        ),
    ]
