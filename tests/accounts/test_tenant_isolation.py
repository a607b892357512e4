"""Nothing of one organisation is reachable from another: foreign ids answer 404, queries are scoped."""

import pytest

from accounts.models import ApiToken, RoleGroup, User
from accounts.services import api_token_create
from auditlog.models import AuditEvent
from core.tenancy import TenantScopeError, tenant
from tests.conftest import count_tenant_audit_rows


@pytest.fixture
def globex(other_org):
    with tenant(other_org):
        token, _ = api_token_create(name="Globex SIEM")
        return {
            "admin": User.objects.get(email="admin@globex.test"),
            "group": RoleGroup.objects.get(name="Agent"),
            "token": token,
        }


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/settings/users/{admin}/"),
        ("post", "/settings/users/{admin}/"),
        ("post", "/settings/users/{admin}/password/"),
        ("post", "/settings/users/{admin}/delete/"),
        ("get", "/settings/role-groups/{group}/"),
        ("post", "/settings/role-groups/{group}/delete/"),
        ("post", "/settings/security/api-tokens/{token}/revoke/"),
    ],
)
def test_another_organisations_ids_answer_404_and_change_nothing(admin_client, globex, method, url):
    ids = {name: obj.pk for name, obj in globex.items()}
    rows_before = count_tenant_audit_rows()
    response = getattr(admin_client, method)(
        url.format(**ids), {"name": "Hijack", "password": "hijack-password-1"}
    )
    assert response.status_code == 404
    assert User.all_tenants.filter(pk=ids["admin"], name="Globex Admin").exists()
    assert RoleGroup.all_tenants.filter(pk=ids["group"], name="Agent").exists()
    assert ApiToken.all_tenants.filter(pk=ids["token"]).exists()
    assert count_tenant_audit_rows() == rows_before


def test_lists_show_only_the_own_organisation(admin_client, globex):
    page = admin_client.get("/settings/users/").content.decode()
    assert "admin@acme.test" in page and "admin@globex.test" not in page
    tokens = admin_client.get("/settings/security/api-tokens/").content.decode()
    assert "Globex SIEM" not in tokens


def test_role_group_choices_offer_only_the_own_organisation(admin_client, globex):
    response = admin_client.post(
        "/settings/users/new/",
        {
            "name": "X",
            "email": "x@acme.test",
            "role_group": globex["group"].pk,
            "password": "long-enough-pw",
        },
    )
    assert response.status_code == 200
    assert "role_group" in response.context["form"].errors
    assert not User.all_tenants.filter(email="x@acme.test").exists()


def test_scoped_managers_refuse_to_run_without_an_organisation(org, other_org):
    with tenant(org):
        acme_users = set(User.objects.values_list("email", flat=True))
    assert acme_users == {"admin@acme.test"}
    from core import context

    with context.use(org_id=None), pytest.raises(TenantScopeError):
        list(RoleGroup.objects.all())


def test_audit_rows_of_each_organisation_stay_apart(org, other_org):
    acme_rows = AuditEvent.objects.for_org(org.pk)
    # Row-level security shows an organisation's rows only inside its own context.
    with tenant(other_org):
        globex_ids = set(AuditEvent.objects.for_org(other_org.pk).values_list("id", flat=True))
    assert acme_rows.exists() and globex_ids
    assert not acme_rows.filter(subject_name__startswith="Globex").exists()
    assert set(acme_rows.values_list("org_id", flat=True)) == {org.pk}
    assert not set(acme_rows.values_list("id", flat=True)) & globex_ids
