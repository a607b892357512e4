"""The type index carries the subject type and the performer index the subject type too
(INCLUDE): the Kind sub-filter (settings events of one subject type), alone or with a
performer, then finds its events from the index alone. At 100M events a week of a rare kind
(Support Access) in a large organisation read 19,950 table pages from disk for 101 events:
27 s (bench/TUNING.md item 15).

On a large log this rebuilds two indexes of the partitioned table (minutes per 10M events,
holding a lock on the table): run it in a maintenance window.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0010_subfilter_covering_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="auditevent", name="audit_org_type_time"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_org_actor_time"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                models.F("org_id"),
                models.F("event_type"),
                models.OrderBy(models.F("occurred_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                include=("subject_type",),
                name="audit_org_type_time",
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                models.F("org_id"),
                models.F("actor_type"),
                models.F("actor_id"),
                models.OrderBy(models.F("occurred_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                include=("event_type", "subject_type"),
                name="audit_org_actor_time",
            ),
        ),
    ]
