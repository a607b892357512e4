"""Give organisations that existed before billing their default plan and seats."""

from django.db import migrations


def provision(apps, schema_editor) -> None:  # noqa: ANN001
    organization = apps.get_model("accounts", "Organization")
    subscription = apps.get_model("billing", "Subscription")
    seat_allocation = apps.get_model("billing", "SeatAllocation")
    for org_id in organization._default_manager.values_list("pk", flat=True):
        subscription._default_manager.get_or_create(org_id=org_id)
        seat_allocation._default_manager.get_or_create(org_id=org_id)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(provision, migrations.RunPython.noop)]
