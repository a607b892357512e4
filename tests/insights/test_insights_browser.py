"""The insight pages in headless Chromium against a live server: the work-session timeline, the
connectivity report, Team Pulse updating without a reload, the Audit Log's volume strip and an
object's History with "as of". Screenshots go to artifacts/."""

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.context import Actor
from core.tenancy import tenant
from settings_app import services as settings
from tests.auditlog.test_viewer_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_csp_violation,
    sign_in,
    watch_csp,
)
from tests.insights.conftest import local
from tests.insights.helpers import at, lapse, make_agent
from worksession import services

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (run `make browsers`)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    csp_problems = watch_csp(page)
    yield page
    assert_no_csp_violation(page, csp_problems)
    context.close()


def test_timeline_from_an_audit_log_row(live_server, page, org, admin, day, scripted_day):
    ann, events = scripted_day["ann"], scripted_day["events"]
    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(
        f"{live_server.url}/settings/security/audit-log/?event_type=work_session"
        f"&agent={ann.pk}&start={day.isoformat()}&end={day.isoformat()}"
    )
    page.locator("#audit-table a.row-link", has_text="Timeline").first.click()
    page.wait_for_url(re.compile(rf"/settings/work/agents/{ann.pk}/timeline/\?start={day}"))

    totals = page.locator("#timeline-totals")
    assert "8 h 05 min" in totals.inner_text()
    assert "7 h 26 min" in totals.inner_text()
    assert page.locator('[data-total="handled"]').inner_text() == "4"
    chart = page.locator("#timeline svg")
    assert chart.locator("a.marker").count() == 6
    assert chart.locator("a.marker-lapse").count() == 1
    crossed = chart.locator('a[data-crossed="true"]')
    assert crossed.count() == 1
    assert crossed.get_attribute("data-event-id") == str(events["assigns"][2].pk)
    assert chart.locator("rect.band").count() == 7
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#timeline").screenshot(path=str(ARTIFACTS / "timeline.png"))
    page.screenshot(path=str(ARTIFACTS / "insights-timeline.png"), full_page=True)

    # The crossing marker links to its row in the audit log.
    crossed.locator("circle").last.click()
    page.wait_for_url(re.compile(r"/settings/security/audit-log/\?"))
    rows = page.locator("#audit-table tbody tr[data-event-id]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-event-id") == str(events["assigns"][2].pk)
    assert "over capacity" in rows.first.inner_text()


def test_connectivity_report(live_server, page, org, admin, berlin):
    d1 = berlin - timedelta(days=1)
    ann = make_agent(org, "ann@acme.test", "Ann Agent")
    bob = make_agent(org, "bob@acme.test", "Bob Agent")
    lapse(org, ann, local(d1, 9))
    lapse(org, ann, local(d1, 13))
    lapse(org, bob, local(berlin - timedelta(days=3), 11))

    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(live_server.url + "/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Connectivity lapses"
    ).click()
    page.wait_for_url(re.compile(r"/settings/work/connectivity/$"))
    ranked = page.locator("#connectivity-table tbody tr[data-agent-id]")
    assert [row.locator("th").inner_text() for row in ranked.all()] == ["Ann Agent", "Bob Agent"]
    assert ranked.first.locator("td.total").inner_text() == "2"
    assert "3 lapses across 2 agents" in page.locator("#connectivity-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "insights-connectivity.png"), full_page=True)

    ranked.first.locator(f'td[data-day="{d1.isoformat()}"] a').click()
    page.wait_for_url(re.compile(rf"/settings/security/audit-log/\?start={d1}&end={d1}"))
    actors = page.locator("#audit-table tbody tr .c-actor .actor").all_inner_texts()
    assert actors == ["System (connectivity lapse)", "System (connectivity lapse)"]


def test_team_pulse_shows_a_status_change_without_reload(live_server, page, org, admin):
    ann = make_agent(org, "ann@acme.test", "Ann Agent")
    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(live_server.url + "/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Team Pulse").click()
    page.wait_for_url(re.compile(r"/settings/work/pulse/$"))
    row = page.locator(f'#pulse-table tr[data-agent-id="{ann.pk}"]')
    assert row.locator(".pill").inner_text() == "Signed out"
    page.evaluate("window.__samePage = true")

    # Ann signs in and goes Available (the services, as her workspace would), in the database.
    with tenant(org, actor=Actor.for_user(ann)):
        services.work_session_start(user=ann)
        services.agent_status_set(user=ann, status="Available")

    row.locator(".pill", has_text="Available").wait_for(timeout=12_000)
    assert row.get_attribute("data-state") == "available"
    assert page.evaluate("window.__samePage") is True  # no reload happened
    assert page.locator('[data-summary="available"]').inner_text() == "1"
    assert "updated" in page.locator("#pulse-updated").inner_text()
    page.screenshot(path=str(ARTIFACTS / "insights-team-pulse.png"), full_page=True)

    # And a connectivity lapse (the System) appears the same way.
    with at(timezone.now() + timedelta(seconds=org.heartbeat_grace_seconds + 10)):
        assert services.heartbeat_lapses_detect(org_id=org.pk) == [ann.pk]
    row.locator(".pill", has_text="Unavailable").wait_for(timeout=12_000)
    assert page.evaluate("window.__samePage") is True


def test_volume_strip_narrows_the_range_to_a_day(live_server, page, org, admin, berlin):
    d1, d2 = berlin - timedelta(days=5), berlin - timedelta(days=2)
    with tenant(org, actor=Actor.for_user(admin)):
        for n in range(3):
            with at(local(d1, 10 + n)):
                settings.shortcut_create(name=f"Early {n}", text="hello")
        with at(local(d2, 9)):
            settings.shortcut_create(name="Late", text="hello", category="Openers")

    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(live_server.url + "/settings/security/audit-log/?event_type=settings")
    strip = page.frame_locator("#volume-strip")
    bar = strip.locator(f'a[data-day="{d2.isoformat()}"]')
    bar.wait_for()
    assert bar.get_attribute("data-count") == "3"
    assert strip.locator(f'a[data-day="{d1.isoformat()}"]').get_attribute("data-count") == "6"
    page.screenshot(path=str(ARTIFACTS / "insights-volume-strip.png"))

    bar.click()
    page.wait_for_url(re.compile(rf"\?start={d2}&end={d2}&event_type=settings"))
    assert page.locator("#audit-table tbody tr[data-event-id]").count() == 3
    assert page.locator("#f-start").input_value() == d2.isoformat()
    selected = page.frame_locator("#volume-strip").locator("rect.bar.selected")
    selected.wait_for()
    assert selected.count() == 1


def test_history_as_of_and_restore(live_server, page, org, admin):
    criteria = {
        "match": "all",
        "conditions": [{"field": "priority", "operator": "equals", "value": "high"}],
    }
    with tenant(org, actor=Actor.for_user(admin)):
        rule = settings.business_rule_create(
            name="VIP routing", criteria=criteria, actions=[{"type": "add_tag", "value": "vip"}]
        )
        settings.business_rule_update(
            rule=rule,
            criteria={
                "match": "any",
                "conditions": [
                    {"field": "priority", "operator": "equals", "value": "urgent"},
                    {"field": "tags", "operator": "contains", "value": "vip"},
                ],
            },
        )
    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(live_server.url + "/settings/business-rules/")
    page.get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(rf"/history/business_rule/{rule.pk}/$"))
    page.locator("#history-table a.state-link").last.click()  # the state after its creation
    page.wait_for_url(re.compile(r"\?event=\d+#as-of$"))
    kinds = page.locator(".struct-diff li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["changed", "changed", "added"]
    page.locator("#as-of").screenshot(path=str(ARTIFACTS / "insights-history-as-of.png"))

    page.get_by_role("button", name="Restore these values").click()
    page.wait_for_url(re.compile(rf"/history/business_rule/{rule.pk}/$"))
    assert "recorded in the audit log as an update by you" in page.locator(".messages").inner_text()
    first_change = page.locator("#history-table tbody tr").first
    assert "Acme Admin" in first_change.inner_text()
    assert "Criteria" in first_change.inner_text()
