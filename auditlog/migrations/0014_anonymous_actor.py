"""`anonymous` joins the performed-by types (SPEC 8.3: failed sign-ins). Choices only: no SQL."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0013_csv_cell"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor_type",
            field=models.CharField(
                choices=[
                    ("user", "User"),
                    ("system", "System"),
                    ("workflow", "Workflow"),
                    ("business_rule", "Business rule"),
                    ("queue_router", "Queue router"),
                    ("api", "API"),
                    ("anonymous", "Anonymous"),
                ],
                max_length=32,
            ),
        ),
    ]
