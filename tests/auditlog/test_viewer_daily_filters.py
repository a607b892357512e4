"""The Audit Log's filter bar for daily use: Performed by offers people (with emails),
every automation type, each business rule and API token; several event types at once; date
presets and times of day; times shown in the organisation's zone, the viewer's own or UTC,
the choice kept on their account. The URL contract (SPEC §4-5) stays: the form's own fields
become `actor_type`, `performed_by`, `event_type`, `start` and `end`."""

import re
from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from accounts.services import api_token_create
from core import context
from core.context import Actor
from settings_app import services

URL = "/settings/security/audit-log/"


def _row_sections(html: str) -> list[str]:
    return re.findall(r'<tbody class="change"[^>]*data-section="([^"]+)"', html)


def test_performed_by_offers_people_automations_rules_and_tokens(org, admin, admin_client):
    rule = services.business_rule_create(
        name="VIP routing",
        criteria={"match": "all", "conditions": []},
        actions=[{"type": "set_priority", "value": "urgent"}],
    )
    token, _ = api_token_create(name="SIEM reader", scopes=["audit:read"], created_by=admin)
    html = admin_client.get(URL).content.decode()
    select = re.search(r'<select id="f-performer".*?</select>', html, re.S).group(0)
    assert f'<option value="user:{admin.pk}">Acme Admin (admin@acme.test)</option>' in select
    for value in ("system", "queue_router", "workflow", "business_rule", "anonymous", "api"):
        assert f'<option value="{value}">' in select
    assert f'<option value="business_rule:{rule.pk}">Business rule: VIP routing</option>' in select
    assert f'<option value="api:{token.pk}">API token: SIEM reader</option>' in select


def test_choosing_a_token_shows_only_its_changes(org, admin, admin_client):
    token, _ = api_token_create(name="Importer", scopes=["customers:write"], created_by=admin)
    with context.use(actor=Actor("api", str(token.pk), "Importer")):
        services.shortcut_create(name="By the token", text="Hello")
    services.shortcut_create(name="By the admin", text="Hi")
    html = admin_client.get(URL, {"performer": f"api:{token.pk}"}).content.decode()
    assert _row_sections(html) == ["Shortcut"]
    assert "By the token" in html and "By the admin" not in html
    # The choice stays selected, and the pager links carry the URL contract's filters.
    assert f'<option value="api:{token.pk}" selected>' in html
    system = admin_client.get(URL, {"performer": "system"}).content.decode()
    assert "By the token" not in system


def test_several_event_types_at_once(org, admin, admin_client):
    services.shortcut_create(name="A shortcut", text="Hello")
    response = admin_client.get(URL, {"event_type": ["settings", "billing"]})
    html = response.content.decode()
    assert response.status_code == 200
    assert set(_row_sections(html)) <= {"Shortcut", "Plan", "Seats", "Organisation"}
    assert "Shortcut" in _row_sections(html)
    assert 'value="settings" checked' in html and 'value="billing" checked' in html
    assert "2 chosen" in html


def test_a_preset_and_a_time_of_day_narrow_the_range(org, admin, admin_client):
    services.shortcut_create(name="Today", text="Hello")
    day = timezone.now().astimezone(org.tz).date().isoformat()
    html = admin_client.get(URL, {"preset": "24h"}).content.decode()
    assert "Today" in html
    later = (timezone.now().astimezone(org.tz) + timedelta(minutes=2)).strftime("%H:%M")
    html = admin_client.get(
        URL, {"start": day, "start_time": later, "end": day, "event_type": "settings"}
    ).content.decode()
    assert "Today" not in html
    assert f'value="{later}"' in html  # the time of day stays in its field


def test_times_show_in_the_zone_the_viewer_chose_and_it_is_remembered(org, admin, admin_client):
    services.shortcut_create(name="Zoned", text="Hello")
    html = admin_client.get(URL, {"zone": "UTC"}).content.decode()
    assert "Times in UTC" in html
    assert User.objects.get(pk=admin.pk).display_time_zone == "UTC"
    assert "Times in UTC" in admin_client.get(URL).content.decode()  # kept
    admin_client.get(URL, {"zone": "Asia/Tokyo"})
    assert "Times in Asia/Tokyo" in admin_client.get(URL).content.decode()
    admin_client.get(URL, {"zone": "Not/AZone"})  # ignored, not a 500
    assert User.objects.get(pk=admin.pk).display_time_zone == "Asia/Tokyo"
    admin_client.get(URL, {"zone": "organization"})
    assert f"Times in {org.time_zone}" in admin_client.get(URL).content.decode()


def test_an_unknown_preset_is_a_400_naming_it(org, admin_client):
    response = admin_client.get(URL, {"preset": "5y"})
    assert response.status_code == 400
    assert "Unknown preset; use one of: 24h, 7d, 30d, 90d." in response.content.decode()
