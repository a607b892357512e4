"""Who may open the settings and billing pages: Administrators only; other tenants' ids are 404."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.tenancy import tenant
from settings_app import services
from tests.conftest import audit_rows
from tests.settings_app.helpers import PAGE_SECTIONS

LIST_PAGES = [
    "/settings/searches/",
    "/settings/searches/new/",
    "/settings/shortcuts/",
    "/settings/shortcuts/new/",
    "/settings/business-rules/",
    "/settings/business-rules/new/",
    "/settings/support-access/",
    "/settings/support-access/new/",
    "/settings/billing/",
]


def objects_of_current_org():
    return {
        "searches": services.search_create(name="Open", criteria={"conditions": []}),
        "shortcuts": services.shortcut_create(name="Hi", text="Hello!"),
        "business-rules": services.business_rule_create(
            name="Tag", criteria={}, actions=[{"type": "add_tag", "value": "x"}]
        ),
        "support-access": services.support_access_grant(
            access_level="read_only", expires_at=timezone.now() + timedelta(days=1)
        ),
    }


def detail_urls(objects):
    urls = []
    for kind, obj in objects.items():
        urls += [f"/settings/{kind}/{obj.pk}/", f"/settings/{kind}/{obj.pk}/delete/"]
    urls.append(f"/settings/business-rules/{objects['business-rules'].pk}/toggle/")
    urls.append(f"/settings/support-access/{objects['support-access'].pk}/revoke/")
    return urls


@pytest.fixture
def agent_client(agent):
    client = Client()
    client.force_login(agent)
    return client


@pytest.mark.parametrize("url", LIST_PAGES)
def test_agents_get_403(org, agent_client, url):
    assert agent_client.get(url).status_code == 403
    assert agent_client.post(url, {"name": "x"}).status_code == 403


@pytest.mark.parametrize("url", LIST_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(org, url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_agents_cannot_change_existing_settings(org, agent_client):
    objects = objects_of_current_org()
    before = audit_rows(org, event_type="settings", section__in=PAGE_SECTIONS)
    for url in detail_urls(objects):
        assert agent_client.post(url, {"name": "hijacked"}).status_code == 403, url
    assert audit_rows(org, event_type="settings", section__in=PAGE_SECTIONS) == before


def test_another_organisations_ids_answer_404_and_change_nothing(org, other_org, admin_client):
    with tenant(other_org):
        theirs = objects_of_current_org()
    before = audit_rows(other_org)
    for url in detail_urls(theirs):
        assert admin_client.get(url).status_code in (404, 405), url
        assert admin_client.post(url, {"name": "hijacked"}).status_code == 404, url
    assert audit_rows(other_org) == before
    assert audit_rows(org, event_type="settings", section__in=PAGE_SECTIONS) == []


def test_the_settings_nav_links_every_page(org, admin_client):
    page = admin_client.get("/settings/business-rules/").content.decode()
    for url in ("/settings/billing/", "/settings/searches/", "/settings/shortcuts/"):
        assert f'href="{url}"' in page
    assert 'href="/settings/support-access/"' in page
    assert 'href="/settings/business-rules/" aria-current="page"' in page
