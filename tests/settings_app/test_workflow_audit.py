"""Settings > Workflows is audited (SPEC 8.3): section `Workflow`, event type `settings`,
Kind `workflow` on the Audit Log page and the API."""

import re

from conversations import services
from conversations.models import WorkflowSettings
from conversations.tasks import close_stale_conversations
from tests.settings_app.helpers import rows

URL = "/settings/workflows/"
AUDIT_LOG = "/settings/security/audit-log/"


def workflow_rows(org):
    return rows(org, section="Workflow")


def test_the_defaults_are_made_by_the_system_on_first_use(org, admin_client):
    assert admin_client.get(URL).status_code == 200
    workflow = WorkflowSettings.objects.get()
    subject = ("workflow", str(workflow.pk), "Close idle conversations")
    # Opening the page is not choosing the defaults: the platform made them.
    assert workflow_rows(org) == [
        (
            "settings",
            "create",
            "Workflow",
            "enabled",
            None,
            True,
            "system",
            None,
            "System",
            *subject,
        ),
        (
            "settings",
            "create",
            "Workflow",
            "idle_days",
            None,
            7,
            "system",
            None,
            "System",
            *subject,
        ),
    ]
    admin_client.get(URL)
    assert len(workflow_rows(org)) == 2


def test_the_scheduled_run_makes_the_defaults_as_the_system_too(org):
    close_stale_conversations.apply(args=[org.pk]).get()
    assert {row[6:9] for row in workflow_rows(org)} == {("system", None, "System")}


def test_administrator_changes_are_recorded_with_who_and_from_where(org, admin, admin_client):
    services.workflow_settings()
    response = admin_client.post(URL, {"enabled": "on", "idle_days": "5"})
    assert response.status_code == 302
    admin_client.post(URL, {"idle_days": "5"})  # switched off
    admin_client.post(URL, {"idle_days": "5"})  # nothing changes: no row

    workflow = WorkflowSettings.objects.get()
    who = ("user", str(admin.pk), "Acme Admin", "workflow", str(workflow.pk))
    changes = [row for row in workflow_rows(org) if row[1] == "update"]
    assert [(*row[:9], *row[9:11]) for row in changes] == [
        ("settings", "update", "Workflow", "idle_days", 7, 5, *who),
        ("settings", "update", "Workflow", "enabled", True, False, *who),
    ]
    assert (workflow.enabled, workflow.idle_days) == (False, 5)


def test_a_refused_change_records_nothing(org, admin_client):
    services.workflow_settings()
    before = workflow_rows(org)
    response = admin_client.post(URL, {"enabled": "on", "idle_days": "0"})
    assert response.status_code == 400
    assert workflow_rows(org) == before


def test_kind_workflow_lists_them_on_the_page_and_the_api(org, admin_client):
    services.workflow_settings()
    admin_client.post(URL, {"enabled": "on", "idle_days": "3"})

    html = admin_client.get(AUDIT_LOG, {"event_type": "settings", "kind": "workflow"})
    html = html.content.decode()
    assert set(re.findall(r'data-section="([^"]+)"', html)) == {"Workflow"}
    assert '<option value="workflow"' in html

    body = admin_client.get("/api/v1/audit-events/", {"kind": "workflow"}).json()
    assert {(event["section"], event["property"]) for event in body["results"]} == {
        ("Workflow", "enabled"),
        ("Workflow", "idle_days"),
    }
    assert {event["subject"]["type"] for event in body["results"]} == {"workflow"}
