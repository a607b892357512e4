"""Row-level security: a query that forgets its tenant filter sees only the request's organisation.

The backend keeps the session's `app.org_id` equal to the audit context's organisation
before any SQL on the audit table, and clears it when the request ends, so a kept-alive
connection never carries one organisation into the next request.
"""

import json

import pytest
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.test import Client
from django.urls import include, path

from accounts.services import role_group_create
from auditlog.models import AuditEvent
from core import context
from core.tenancy import tenant


def raw_rows(request: HttpRequest) -> JsonResponse:
    """A view with a bug: raw SQL over the audit table with no tenant filter."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT org_id, count(*) FROM auditlog_auditevent GROUP BY org_id")
        counts = dict(cursor.fetchall())
    return JsonResponse({str(org_id): count for org_id, count in counts.items()})


def psycopg_rows(request: HttpRequest) -> JsonResponse:
    """Worse: a raw psycopg cursor, which bypasses the backend's hooks altogether."""
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auditlog_auditevent")
        count = cursor.fetchone()[0]
    return JsonResponse({"count": count})


urlpatterns = [
    path("test/raw-rows/", raw_rows),
    path("test/psycopg-rows/", psycopg_rows),
    path("", include("config.urls")),
]


def _session_setting() -> str:
    with connection.connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.org_id', true), '')")
        return cursor.fetchone()[0]


@pytest.fixture
def both_orgs_have_rows(org, other_org):
    with tenant(other_org):
        role_group_create(name="Globex auditors", permissions=[])
    role_group_create(name="Acme auditors", permissions=[])
    for one in (org, other_org):
        with tenant(one):
            assert AuditEvent.objects.filter(org_id=one.pk).exists()


@pytest.mark.urls(__name__)
def test_raw_select_without_tenant_filter_in_a_request_returns_only_that_organisations_rows(
    org, other_org, both_orgs_have_rows, admin_client
):
    response = admin_client.get("/test/raw-rows/")
    counts = json.loads(response.content)
    assert list(counts) == [str(org.pk)]
    with tenant(org):
        assert counts[str(org.pk)] == AuditEvent.objects.for_org(org.pk).count()


@pytest.mark.urls(__name__)
def test_the_setting_does_not_survive_into_the_next_request_on_the_same_connection(
    org, other_org, both_orgs_have_rows, admin_client
):
    assert json.loads(admin_client.get("/test/raw-rows/").content)
    # Same connection (the test client runs requests in this thread), request over:
    assert _session_setting() == ""
    # The next request, anonymous, reads through a raw cursor that sets nothing: no rows.
    with context.use(org_id=None):
        response = Client().get("/test/psycopg-rows/")
    assert json.loads(response.content) == {"count": 0}


def test_no_organisation_in_context_sees_no_audit_rows(org, other_org, both_orgs_have_rows):
    with context.use(org_id=None):
        assert AuditEvent.objects.count() == 0
    with tenant(other_org):
        assert set(AuditEvent.objects.values_list("org_id", flat=True)) == {other_org.pk}
    assert set(AuditEvent.objects.values_list("org_id", flat=True)) == {org.pk}


def test_a_rolled_back_setting_is_not_trusted_afterwards(org, other_org, both_orgs_have_rows):
    """set_config inside a transaction that rolls back reverts; the cached value must too."""
    own = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic(), tenant(other_org):
        assert set(AuditEvent.objects.values_list("org_id", flat=True)) == {other_org.pk}
        raise RuntimeError("roll back")
    with tenant(other_org):
        assert set(AuditEvent.objects.values_list("org_id", flat=True)) == {other_org.pk}
    assert AuditEvent.objects.count() == own


def test_recording_never_needs_the_setting(org, other_org):
    """The recorder sets each row's organisation itself (an INSERT is admitted only for the
    session's organisation): a row for Globex written while Acme's setting is active lands,
    and only Globex sees it."""
    assert AuditEvent.objects.exists()  # the session now holds Acme
    with tenant(other_org):
        role_group_create(name="Written under Acme's setting", permissions=[])
    assert not AuditEvent.objects.filter(subject_name="Written under Acme's setting").exists()
    with tenant(other_org):
        assert AuditEvent.objects.filter(subject_name="Written under Acme's setting").exists()
