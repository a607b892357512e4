"""Every unique key and foreign key on a tenant table includes org_id (Citus-ready schema).

Read from the database itself (constraints and unique indexes), for every model that
belongs to an organisation, so a key added later without org_id fails here. Django's
single-column primary keys are the documented exception (docs/scaling.md): each table
referenced by another carries UNIQUE (org_id, id), which becomes its primary key when the
tables are distributed by org_id.
"""

from django.apps import apps
from django.db import connection

from accounts.models import Organization

# Looked up before any organisation is known, so unique across the platform; on Citus they
# live in a reference table (docs/scaling.md).
GLOBAL_KEYS = {
    ("accounts_user", ("email",)): "sign-in finds the account by its email",
    ("accounts_apitoken", ("prefix",)): "API authentication finds the token by its prefix",
}


def _tenant_models() -> list:
    return [
        model
        for model in apps.get_models()
        if model._meta.managed
        and not model._meta.proxy
        and model is not Organization
        and any(field.attname == "org_id" for field in model._meta.concrete_fields)
    ]


def test_every_unique_and_foreign_key_on_a_tenant_table_includes_org_id(db):
    tenant_models = _tenant_models()
    assert len(tenant_models) >= 15  # users, conversations, settings, billing, the audit log…
    problems = []
    with connection.cursor() as cursor:
        for model in tenant_models:
            table = model._meta.db_table
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, constraint in constraints.items():
                columns = tuple(constraint["columns"])
                if constraint["primary_key"] or not (
                    constraint["unique"] or constraint["foreign_key"]
                ):
                    continue
                if "org_id" not in columns and (table, columns) not in GLOBAL_KEYS:
                    kind = "foreign key" if constraint["foreign_key"] else "unique key"
                    problems.append(f"{table}: {kind} {name} on {columns} lacks org_id")
            # A relation between two tenant rows is enforced with the organisation in it,
            # so a row can never point at another organisation's row.
            for field in model._meta.concrete_fields:
                if (
                    field.is_relation
                    and field.related_model in tenant_models
                    and not any(
                        constraint["foreign_key"]
                        and tuple(constraint["columns"]) == ("org_id", field.column)
                        for constraint in constraints.values()
                    )
                ):
                    problems.append(
                        f"{table}.{field.column} -> {field.related_model._meta.db_table}: "
                        "no foreign key on (org_id, "
                        f"{field.column})"
                    )
    assert problems == []
