"""Saved views of the Audit Log (SPEC §8.5): named search-language queries, private or shared,
on the page's menu and at /api/v1/saved-views/; each change to one is an audited Settings
change (kind saved_view)."""

import re

from accounts.models import User
from accounts.services import api_token_create
from audit_read import query
from settings_app.models import SavedView
from tests.auditlog.api_helpers import bearer
from tests.conftest import audit_rows, compact
from tests.factories import UserFactory

URL = "/settings/security/audit-log/"
API = "/api/v1/saved-views/"


def test_saving_the_page_as_a_view_and_opening_it(org, admin, admin_client):
    response = admin_client.post(
        URL + "views/",
        {
            "name": "Rule changes",
            "query": 'section:"Business Rule" -actor_type:system',
            "shared": "on",
        },
    )
    assert response.status_code == 302
    view = SavedView.objects.get()
    assert (view.name, view.shared, view.owner_id) == ("Rule changes", True, admin.pk)
    assert response["Location"].startswith(URL + "?q=section%3A%22Business+Rule%22")
    page = admin_client.get(response["Location"]).content.decode()
    assert re.search(rf'<a href="[^"]*view={view.pk}" aria-current="true">Rule changes</a>', page)
    rows = audit_rows(org, section="Saved View")
    assert compact(
        rows, "event_type", "action", "property", "after", "actor_id", "subject_type"
    ) == [
        ("settings", "create", "name", "Rule changes", str(admin.pk), "saved_view"),
        (
            "settings",
            "create",
            "query",
            'section:"Business Rule" -actor_type:system',
            str(admin.pk),
            "saved_view",
        ),
        ("settings", "create", "shared", True, str(admin.pk), "saved_view"),
    ]
    kind = admin_client.get(URL, {"event_type": "settings", "kind": "saved_view"}).content.decode()
    assert "Rule changes" in kind


def test_a_bad_query_is_not_saved(org, admin_client):
    response = admin_client.post(
        URL + "views/", {"name": "Broken", "query": "colour:red"}, follow=True
    )
    assert "Could not save the view: Unknown qualifier colour:" in response.content.decode()
    assert not SavedView.objects.exists()


def test_private_views_are_their_owners_and_shared_ones_everyones(org, admin, admin_client):
    from accounts.models import RoleGroup
    from accounts.permissions import ADMINISTRATOR

    other = UserFactory(
        email="dana@acme.test",
        name="Dana Admin",
        role_group=RoleGroup.objects.get(name=ADMINISTRATOR),
    )
    admin_client.post(URL + "views/", {"name": "Mine", "query": "type:settings"})
    admin_client.post(URL + "views/", {"name": "Ours", "query": "type:billing", "shared": "on"})
    from django.test import Client

    dana = Client()
    dana.force_login(User.objects.get(pk=other.pk))
    listed = dana.get(API).json()["results"]
    assert [view["name"] for view in listed] == ["Ours"]
    mine = SavedView.objects.get(name="Mine")
    assert dana.get(f"{API}{mine.pk}/").status_code == 404
    assert dana.post(f"{URL}views/{mine.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(pk=mine.pk).exists()


def test_the_api_creates_changes_and_deletes_views(org, admin, admin_client):
    created = admin_client.post(
        API,
        {"name": "Logins", "query": "type:authorization action:login"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "Logins",
        "query": "type:authorization action:login",
        "shared": False,
    }
    changed = admin_client.patch(
        f"{API}{body['id']}/",
        {"shared": True, "query": "action:login"},
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["shared"] is True
    bad = admin_client.patch(
        f"{API}{body['id']}/", {"query": "type:nope"}, content_type="application/json"
    )
    assert bad.status_code == 400 and "type:nope is not a event type" in bad.content.decode()
    assert admin_client.delete(f"{API}{body['id']}/").status_code == 204
    actions = [row["action"] for row in audit_rows(org, section="Saved View")]
    assert actions == ["create"] * 3 + ["update"] * 2 + ["delete"] * 3


def test_a_token_reads_and_makes_shared_views_only(org, admin, other_org):
    token, secret = api_token_create(name="SIEM", scopes=["audit:read"], created_by=admin)
    client = bearer(secret)
    made = client.post(
        API, {"name": "Token view", "query": "type:settings"}, content_type="application/json"
    )
    assert made.status_code == 201 and made.json()["shared"] is True
    assert [v["name"] for v in client.get(API).json()["results"]] == ["Token view"]
    # Another organisation's view is a 404.
    from core.tenancy import tenant

    with tenant(other_org):
        theirs = SavedView.objects.create(name="Theirs", query="type:billing", shared=True)
    assert client.get(f"{API}{theirs.pk}/").status_code == 404


def test_from_params_says_what_the_filters_say(org):
    params = {
        "event_type": "settings",
        "kind": "business_rule",
        "actor_type": "api",
        "performed_by": "3",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "q": "refund",
    }
    text = query.from_params(params)
    assert (
        text == "type:settings kind:business_rule actor:api:3 created:2026-11-01..2026-11-30 refund"
    )
    compiled = query.compile_query(org, text)
    assert compiled.params == {
        "event_type": "settings",
        "kind": "business_rule",
        "actor_type": "api",
        "performed_by": "3",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "q": "refund",
    }
