"""Settings > Searches and Shortcuts: create, update, delete by page, with their exact rows."""

import json

import pytest

from settings_app import services
from settings_app.models import SavedSearch, Shortcut
from tests.settings_app.helpers import PAGE_SECTIONS, one_change, rows, settings_rows

OPEN_URGENT = {
    "match": "all",
    "conditions": [
        {"field": "status", "operator": "equals", "value": "open"},
        {"field": "priority", "operator": "in", "value": ["high", "urgent"]},
    ],
}


@pytest.fixture
def search(org):
    return services.search_create(
        name="Urgent and open", criteria=OPEN_URGENT, columns=["subject", "priority"]
    )


@pytest.fixture
def shortcut(org):
    return services.shortcut_create(
        name="Refund sent", text="We have sent your refund.", category="Billing"
    )


def test_administrator_creates_a_search(org, admin, admin_client):
    response = admin_client.post(
        "/settings/searches/new/",
        {
            "name": "Urgent and open",
            "criteria": json.dumps(OPEN_URGENT),
            # Chosen out of order: stored in the page's column order.
            "columns": ["priority", "subject"],
        },
    )
    assert response.status_code == 302, response.content.decode()
    search = SavedSearch.objects.get()
    who = ("user", str(admin.pk), "Acme Admin", "search", str(search.pk), "Urgent and open")
    assert rows(org, event_type="settings", section__in=PAGE_SECTIONS) == [
        ("settings", "create", "Search", "name", None, "Urgent and open", *who),
        ("settings", "create", "Search", "criteria", None, OPEN_URGENT, *who),
        ("settings", "create", "Search", "columns", None, ["subject", "priority"], *who),
    ]
    assert one_change(settings_rows(org))


def test_administrator_updates_a_search(org, admin, admin_client, search):
    criteria = {
        "match": "any",
        "conditions": [{"field": "tags", "operator": "contains", "value": "vip"}],
    }
    response = admin_client.post(
        f"/settings/searches/{search.pk}/",
        {
            "name": "VIP",
            "criteria": json.dumps(criteria),
            "columns": ["subject", "priority", "tags"],
        },
    )
    assert response.status_code == 302, response.content.decode()
    who = ("user", str(admin.pk), "Acme Admin", "search", str(search.pk), "VIP")
    assert rows(org, action="update") == [
        ("settings", "update", "Search", "name", "Urgent and open", "VIP", *who),
        ("settings", "update", "Search", "criteria", OPEN_URGENT, criteria, *who),
        (
            "settings",
            "update",
            "Search",
            "columns",
            ["subject", "priority"],
            ["subject", "priority", "tags"],
            *who,
        ),
    ]


def test_administrator_deletes_a_search(org, admin, admin_client, search):
    assert admin_client.post(f"/settings/searches/{search.pk}/delete/").status_code == 302
    assert not SavedSearch.objects.exists()
    who = ("user", str(admin.pk), "Acme Admin", "search", str(search.pk), "Urgent and open")
    assert rows(org, action="delete") == [
        ("settings", "delete", "Search", "name", "Urgent and open", None, *who),
        ("settings", "delete", "Search", "criteria", OPEN_URGENT, None, *who),
        ("settings", "delete", "Search", "columns", ["subject", "priority"], None, *who),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"criteria": "{"}, "Criteria is not valid JSON"),
        (
            {
                "criteria": json.dumps(
                    {"conditions": [{"field": "colour", "operator": "equals", "value": "red"}]}
                )
            },
            "unknown field &#x27;colour&#x27;",
        ),
        (
            {
                "criteria": json.dumps(
                    {"conditions": [{"field": "queue", "operator": "near", "value": "x"}]}
                )
            },
            "unknown operator &#x27;near&#x27;",
        ),
        ({"columns": ["subject", "mood"]}, "Select a valid choice"),
        ({"columns": []}, "This field is required."),
        ({"name": "  "}, "This field is required."),
    ],
)
def test_invalid_search_input_is_refused_and_changes_nothing(
    org, admin_client, search, data, message
):
    before = settings_rows(org)
    form = {"name": "Another", "criteria": json.dumps(OPEN_URGENT), "columns": ["subject"]}
    form.update(data)
    for url in ("/settings/searches/new/", f"/settings/searches/{search.pk}/"):
        response = admin_client.post(url, form)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert settings_rows(org) == before
    search.refresh_from_db()
    assert (search.name, search.criteria) == ("Urgent and open", OPEN_URGENT)


def test_search_pages_render(org, admin_client, search):
    listing = admin_client.get("/settings/searches/").content.decode()
    assert "Urgent and open" in listing and "Subject, Priority" in listing
    assert admin_client.get("/settings/searches/new/").status_code == 200
    assert admin_client.get(f"/settings/searches/{search.pk}/").status_code == 200


def test_administrator_creates_a_shortcut(org, admin, admin_client):
    response = admin_client.post(
        "/settings/shortcuts/new/",
        {"name": "Refund sent", "text": "We have sent your refund.", "category": "Billing"},
    )
    assert response.status_code == 302
    shortcut = Shortcut.objects.get()
    who = ("user", str(admin.pk), "Acme Admin", "shortcut", str(shortcut.pk), "Refund sent")
    assert rows(org, event_type="settings", section__in=PAGE_SECTIONS) == [
        ("settings", "create", "Shortcut", "name", None, "Refund sent", *who),
        ("settings", "create", "Shortcut", "text", None, "We have sent your refund.", *who),
        ("settings", "create", "Shortcut", "category", None, "Billing", *who),
    ]
    assert one_change(settings_rows(org))


def test_administrator_updates_a_shortcut(org, admin, admin_client, shortcut):
    response = admin_client.post(
        f"/settings/shortcuts/{shortcut.pk}/",
        {"name": "Refund sent", "text": "Your refund is on its way.", "category": "Refunds"},
    )
    assert response.status_code == 302
    who = ("user", str(admin.pk), "Acme Admin", "shortcut", str(shortcut.pk), "Refund sent")
    assert rows(org, action="update") == [
        (
            "settings",
            "update",
            "Shortcut",
            "text",
            "We have sent your refund.",
            "Your refund is on its way.",
            *who,
        ),
        ("settings", "update", "Shortcut", "category", "Billing", "Refunds", *who),
    ]


def test_administrator_deletes_a_shortcut(org, admin, admin_client, shortcut):
    assert admin_client.post(f"/settings/shortcuts/{shortcut.pk}/delete/").status_code == 302
    who = ("user", str(admin.pk), "Acme Admin", "shortcut", str(shortcut.pk), "Refund sent")
    assert rows(org, action="delete") == [
        ("settings", "delete", "Shortcut", "name", "Refund sent", None, *who),
        ("settings", "delete", "Shortcut", "text", "We have sent your refund.", None, *who),
        ("settings", "delete", "Shortcut", "category", "Billing", None, *who),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"text": "   "}, "This field is required."),
        ({"name": "refund SENT"}, "already exists"),
        ({"name": "x" * 201}, "at most 200 characters"),
    ],
)
def test_invalid_shortcut_input_is_refused_and_changes_nothing(
    org, admin_client, shortcut, data, message
):
    before = settings_rows(org)
    form = {"name": "Thanks", "text": "Thank you!", "category": ""} | data
    response = admin_client.post("/settings/shortcuts/new/", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert settings_rows(org) == before
    assert Shortcut.objects.count() == 1


def test_shortcut_pages_render(org, admin_client, shortcut):
    assert "Refund sent" in admin_client.get("/settings/shortcuts/").content.decode()
    assert admin_client.get("/settings/shortcuts/new/").status_code == 200
    assert admin_client.get(f"/settings/shortcuts/{shortcut.pk}/").status_code == 200
    assert (
        "Refund sent"
        in admin_client.get(f"/settings/shortcuts/{shortcut.pk}/delete/").content.decode()
    )
