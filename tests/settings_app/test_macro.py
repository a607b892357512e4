"""The worked example of docs/adding-an-audited-model.md: Macros, declared once in
settings_app/audit.py, with nothing added to auditlog/. Their rows, the Kind filter, the
subject link, History "as of", restore and the sidebar all come from that declaration."""

from auditlog import catalog
from auditlog.models import AuditEvent
from settings_app.models import Macro
from tests.conftest import audit_rows, compact

AUDIT_LOG = "/settings/security/audit-log/"


def _create(admin_client) -> Macro:
    response = admin_client.post(
        "/settings/macros/new/",
        {"name": "Refund sent", "text": "We have sent your refund.", "tags": "billing, refund"},
    )
    assert response.status_code == 302, response.content.decode()
    return Macro.objects.get()


def test_macro_pages_record_create_update_and_delete(org, admin, admin_client):
    macro = _create(admin_client)
    who = ("user", str(admin.pk), "macro", str(macro.pk))
    fields = ("action", "property", "before", "after", "actor_type", "actor_id")
    fields += ("subject_type", "subject_id")
    assert compact(audit_rows(org, section="Macro"), *fields) == [
        ("create", "name", None, "Refund sent", *who),
        ("create", "text", None, "We have sent your refund.", *who),
        ("create", "tags", None, ["billing", "refund"], *who),
    ]
    assert {row["event_type"] for row in audit_rows(org, section="Macro")} == {"settings"}

    response = admin_client.post(
        f"/settings/macros/{macro.pk}/",
        {"name": "Refund sent", "text": "Your refund is on its way.", "tags": "refund"},
    )
    assert response.status_code == 302
    assert compact(audit_rows(org, section="Macro")[3:], *fields[:4]) == [
        ("update", "text", "We have sent your refund.", "Your refund is on its way."),
        ("update", "tags", ["billing", "refund"], ["refund"]),
    ]

    assert admin_client.post(f"/settings/macros/{macro.pk}/delete/").status_code == 302
    assert [row["action"] for row in audit_rows(org, section="Macro")[5:]] == ["delete"] * 3
    assert not Macro.objects.exists()


def test_the_audit_log_filters_macros_by_kind_and_links_to_each(org, admin, admin_client):
    macro = _create(admin_client)
    assert catalog.settings_kinds()["macro"] == "Macro"
    html = admin_client.get(AUDIT_LOG, {"event_type": "settings", "kind": "macro"}).content.decode()
    assert f'href="/settings/macros/{macro.pk}/"' in html  # the subject link
    assert f'href="{AUDIT_LOG}history/macro/{macro.pk}/"' in html  # its History
    # The Kind select offers it; the API's filter accepts it.
    assert '<option value="macro"' in html
    api = admin_client.get("/api/v1/audit-events/", {"kind": "macro"})
    assert api.status_code == 200, api.content.decode()
    assert {event["section"] for event in api.json()["results"]} == {"Macro"}


def test_history_shows_a_macro_as_of_a_moment_and_restores_it(org, admin, admin_client):
    macro = _create(admin_client)
    admin_client.post(
        f"/settings/macros/{macro.pk}/",
        {"name": "Refund done", "text": "Your refund is on its way.", "tags": ""},
    )
    created = (
        AuditEvent.objects.for_org(org.pk)
        .filter(section="Macro", action="create")
        .order_by("-id")
        .first()
    )
    history = f"{AUDIT_LOG}history/macro/{macro.pk}/"
    page = admin_client.get(history, {"event": created.pk})
    html = page.content.decode()
    assert page.status_code == 200
    assert "History of macro “Refund done”" in html
    assert "We have sent your refund." in html  # the text as of the creation
    assert "Restore these values" in html
    assert "3 of 3 properties differ from now." in html

    count = AuditEvent.objects.for_org(org.pk).count()
    response = admin_client.post(history + "restore/", {"event": created.pk})
    assert response.status_code == 302
    macro.refresh_from_db()
    assert (macro.name, macro.text, macro.tags) == (
        "Refund sent",
        "We have sent your refund.",
        ["billing", "refund"],
    )
    restored = audit_rows(org, section="Macro")[-3:]
    assert AuditEvent.objects.for_org(org.pk).count() == count + 3
    assert compact(restored, "action", "property", "after", "actor_id") == [
        ("update", "name", "Refund sent", str(admin.pk)),
        ("update", "text", "We have sent your refund.", str(admin.pk)),
        ("update", "tags", ["billing", "refund"], str(admin.pk)),
    ]


def test_the_sidebar_links_to_macros(admin_client):
    html = admin_client.get("/settings/macros/").content.decode()
    assert '<a href="/settings/macros/" aria-current="page">Macros</a>' in html
    assert "No macros yet." in html
