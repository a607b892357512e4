"""One event's page in headless Chromium: it loads with its styles and no error or
Content-Security-Policy violation, reads at desktop width and in a 390 px column, and its
History link works."""

from collections.abc import Iterator
from typing import Any

import pytest

from auditlog.models import AuditEvent
from core import context
from core.context import Actor
from settings_app import services
from tests.auditlog.test_viewer_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_csp_violation,
    sign_in,
    watch_csp,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (run `make browsers`)",
    ),
    pytest.mark.django_db(transaction=True),
]

PHONE = 390
LONG_VALUE = "vip-" + "x" * 160  # one unbroken word, wider than a phone
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


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
    browser_context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = browser_context.new_page()
    page.set_default_timeout(15_000)
    csp_problems = watch_csp(page)
    yield page
    assert_no_csp_violation(page, csp_problems)
    browser_context.close()


@pytest.fixture
def criteria_event(org, admin) -> AuditEvent:
    with context.use(actor=Actor.for_user(admin), ip_address="203.0.113.9", user_agent=UA):
        rule = services.business_rule_create(
            name="VIP",
            criteria={
                "match": "all",
                "conditions": [{"field": "customer_tags", "operator": "contains", "value": "a"}],
            },
            actions=[{"type": "set_priority", "value": "high"}],
        )
        services.business_rule_update(
            rule=rule,
            name="VIP routing",
            criteria={
                "match": "all",
                "conditions": [
                    {"field": "customer_tags", "operator": "contains", "value": LONG_VALUE}
                ],
            },
        )
    return AuditEvent.objects.for_org(org.pk).get(action="update", property="criteria")


def test_the_event_page_reads_on_a_desktop_and_a_phone(live_server, page, org, criteria_event):
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    page.goto(f"{base}/settings/security/audit-log/events/{criteria_event.pk}/")
    page.wait_for_load_state("networkidle")

    assert page.locator("h1").inner_text() == "Update · Business Rule · VIP routing"
    # The stylesheet applies: Before and After sit side by side.
    before, after = page.locator("#before").bounding_box(), page.locator("#after").bounding_box()
    assert after["x"] > before["x"] + before["width"] - 1 and abs(after["y"] - before["y"]) < 2
    assert page.locator("#after ins.line").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "audit-event.png"), full_page=True)

    # A phone: the page's own column takes the window's width (the settings sidebar folds into
    # a menu above it); nothing wider than the column, Before above After.
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.wait_for_timeout(100)
    column = page.locator(".event-page")
    assert PHONE - 2 * 24 <= column.evaluate("c => c.clientWidth") <= PHONE
    overflow = column.evaluate(
        "c => Math.max(...[...c.querySelectorAll('*')].map("
        "e => e.getBoundingClientRect().right)) - c.getBoundingClientRect().right"
    )
    assert overflow <= 0.5, f"something on the event page is {overflow} px wider than {PHONE}"
    before, after = page.locator("#before").bounding_box(), page.locator("#after").bounding_box()
    assert after["y"] >= before["y"] + before["height"] - 1
    page.locator(".event-page").screenshot(path=str(ARTIFACTS / "audit-event-390.png"))

    page.get_by_role("link", name="History of this business rule").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("History of business rule")
    assert failed == [] and errors == []
