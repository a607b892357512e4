"""Settings > Security > Audit Log in headless Chromium against a live server.

An Administrator signs in through the login form, filters by every event type and
sub-filter, reads Before/After popovers by hover and by keyboard, pages Older and Newer and
exports the filtered set; an Agent is refused. The events come from the real services (users,
business rules, shortcuts, searches) and the recorder's explicit events.
"""

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import RoleGroup, User
from accounts.permissions import ADMINISTRATOR, AGENT
from accounts.services import user_create, user_update
from auditlog import recorder
from core.context import Actor
from core.tenancy import tenant
from settings_app.services import (
    business_rule_create,
    business_rule_update,
    search_create,
    shortcut_create,
)
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
URL = "/settings/security/audit-log/"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (run `make browsers`)",
    ),
    pytest.mark.django_db(transaction=True),
]

CRITERIA_BEFORE = {
    "match": "all",
    "conditions": [{"field": "priority", "operator": "equals", "value": "high"}],
}
CRITERIA_AFTER = {
    "match": "all",
    "conditions": [
        {"field": "priority", "operator": "equals", "value": "urgent"},
        {"field": "tags", "operator": "contains", "value": "vip"},
    ],
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def watch_csp(page: Any) -> list[str]:
    """Every Content-Security-Policy violation in any frame of the page, from the console and
    from `securitypolicyviolation` events, and every document served without the header."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    def on_response(response: Any) -> None:
        if response.request.resource_type == "document" and not response.headers.get(
            "content-security-policy"
        ):
            problems.append(f"no Content-Security-Policy header on {response.url}")

    def on_violation(text: str) -> None:
        problems.append(text)

    page.on("console", on_console)
    page.on("response", on_response)
    page.expose_function("reportCspViolation", on_violation)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => window.reportCspViolation("
        "`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));"
    )
    return problems


def assert_no_csp_violation(page: Any, problems: list[str]) -> None:
    page.wait_for_timeout(250)  # lets the last events arrive
    assert problems == [], f"Content-Security-Policy: {problems}"


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(
        viewport={"width": 1440, "height": 900}, locale="en-GB", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    csp_problems = watch_csp(page)
    yield page
    assert_no_csp_violation(page, csp_problems)
    context.close()


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def shown(page: Any) -> list[tuple[str, str]]:
    """(Performed By, Section) of each change on the page, top to bottom."""
    return [
        (change.locator(".c-actor .actor").inner_text(), change.get_attribute("data-section"))
        for change in page.locator("#audit-table tbody.change").all()
    ]


def choose_types(page: Any, *types: str) -> None:
    """Tick exactly these event types in the Event types menu (none: all types)."""
    summary = page.locator("[data-event-types] summary")
    summary.click()
    for box in page.locator('[data-event-types] input[name="event_type"]').all():
        box.set_checked(box.get_attribute("value") in types)
    summary.click()


def subjects(page: Any) -> list[str]:
    return [
        re.split(r" · ", text)[0].strip()
        for text in page.locator("#audit-table tbody tr .subject").all_inner_texts()
    ]


@pytest.fixture
def history(org: Any, admin: User, agent: User) -> dict[str, Any]:
    """A small, varied history of Acme, made the way the product makes it."""
    with tenant(org, actor=Actor.for_user(admin)):
        dana = user_create(
            email="dana@acme.test",
            password=PASSWORD,
            name="Dana Admin",
            role_group=RoleGroup.objects.get(name=ADMINISTRATOR),
        )
        user_update(user=agent, phone="+44 20 7946 0000")
        rule = business_rule_create(
            name="VIP routing",
            criteria=CRITERIA_BEFORE,
            actions=[{"type": "set_priority", "value": "high"}],
        )
        business_rule_update(rule=rule, criteria=CRITERIA_AFTER)
        search_create(
            name="Open VIP tickets",
            criteria={
                "match": "all",
                "conditions": [{"field": "status", "operator": "equals", "value": "open"}],
            },
        )
    with tenant(org, actor=Actor.for_user(dana)):
        shortcut_create(name="Greeting", text="Hello, thanks for writing in!", category="Openers")
    with tenant(org):
        bob = user_create(
            email="bob@acme.test",
            password=None,
            name="Bob Builder",
            role_group=RoleGroup.objects.get(name=AGENT),
        )
        recorder.record(
            section="Work Session",
            action="assign",
            subject_id=agent.pk,
            subject_name=agent.name,
            property="conversation",
            after="Conversation #12",
            actor=Actor("queue_router", None, "Queue router"),
            metadata={"load_before": 2, "load_after": 3, "capacity": 2, "over_capacity": True},
        )
        recorder.record(
            section="Work Session",
            action="update",
            subject_id=bob.pk,
            subject_name=bob.name,
            property="status",
            before="Available",
            after="Unavailable",
            actor=Actor.system(),
            metadata={"reason": "heartbeat_lapse", "last_heartbeat": "2026-01-01T09:00:00Z"},
        )
        recorder.record(
            section="Conversation",
            action="update",
            subject_id=501,
            subject_name="Broken zipper",
            property="priority",
            before="normal",
            after="high",
            actor=Actor("business_rule", str(rule.pk), "VIP routing"),
        )
        recorder.record(
            section="Conversation",
            action="update",
            subject_id=502,
            subject_name="Late delivery",
            property="status",
            before="open",
            after="done",
            actor=Actor("workflow", "1", "Close idle conversations"),
        )
        recorder.record(
            section="Customer",
            action="update",
            subject_id=9,
            subject_name="Zed Customer",
            property="email",
            before="zed@old.example",
            after="zed@new.example",
            actor=Actor("api", "3", "Zapier token"),
        )
        recorder.record(
            section="Customer",
            action="create",
            subject_id=8,
            subject_name="Old Customer",
            property="name",
            after="Old Customer",
            occurred_at=timezone.now() - timedelta(days=10),
        )
    return {"dana": dana, "bob": bob, "rule": rule}


def test_admin_applies_each_filter_and_sub_filter(live_server, page, org, admin, agent, history):
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit Log").click()
    page.wait_for_url(re.compile(r"/settings/security/audit-log/$"))

    # Default: the last 7 days, so the 10-day-old customer is not shown.
    assert "Old Customer" not in subjects(page)
    assert "Zed Customer" in subjects(page)
    assert page.locator("#range-summary").inner_text().startswith("Events from ")

    # Choosing an event type reveals its sub-filters at once (no reload).
    user_filter = page.locator("#f-authorization-user")
    assert not user_filter.is_visible()
    choose_types(page, "authorization")
    assert user_filter.is_visible()
    assert not page.locator("#f-settings-kind").is_visible()
    user_filter.select_option(label="Ann Agent (agent@acme.test)")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf"event_type=authorization.*user={agent.pk}"))
    assert {section for _, section in shown(page)} == {"User"}
    assert set(subjects(page)) == {"Ann Agent"}
    assert page.locator("#f-authorization-user").input_value() == str(agent.pk)  # URL is state

    choose_types(page, "settings")
    page.select_option("#f-settings-kind", "business_rule")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"kind=business_rule"))
    assert "user=" not in page.url  # the hidden Authorization sub-filter is not sent
    assert {section for _, section in shown(page)} == {"Business Rule"}
    assert set(subjects(page)) == {"VIP routing"}

    page.select_option("#f-settings-kind", "")
    page.select_option("#f-performer", label="Dana Admin (dana@acme.test)")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf"performer=user%3A{history['dana'].pk}"))
    assert shown(page) and {row for row in shown(page)} == {("Dana Admin", "Shortcut")}

    choose_types(page, "work_session")
    page.select_option("#f-performer", "")
    page.select_option("#f-work_session-agent", label="Bob Builder (bob@acme.test)")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"event_type=work_session"))
    assert shown(page) == [("System (connectivity lapse)", "Work Session")]
    page.select_option("#f-work_session-agent", label="Ann Agent (agent@acme.test)")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf"agent={agent.pk}"))
    assert shown(page) == [("Queue router", "Work Session")]
    assert "Load 2 → 3 of 2 · over capacity" in page.locator("#audit-table tbody").inner_text()

    choose_types(page, "conversation")
    page.fill("#f-conversation-subject_id", "502")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"subject_id=502"))
    assert shown(page) == [("Workflow: Close idle conversations", "Conversation")]

    choose_types(page, "customer")
    page.fill("#f-customer-subject_id", "9")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"event_type=customer.*subject_id=9"))
    assert shown(page) == [("API: Zapier token", "Customer")]

    # Free text, across event types.
    choose_types(page)
    page.fill("#f-q", "zipper")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q=zipper"))
    assert shown(page) == [("Business rule: VIP routing", "Conversation")]

    # Widening the date range brings the old event back (past the first 50 rows).
    page.fill("#f-q", "")
    page.fill("#f-start", (timezone.now() - timedelta(days=30)).date().isoformat())
    page.select_option("#f-page-size", "100")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"start="))
    assert "Old Customer" in subjects(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "audit-log.png"), full_page=True)

    # Dates: the organisation's zone in the cell, exact UTC on hover.
    time_cell = page.locator("#audit-table tbody time").first
    assert time_cell.get_attribute("title").endswith(" UTC")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", time_cell.get_attribute("datetime"))


def test_before_after_popover_by_hover_and_by_keyboard(live_server, page, org, history):
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    page.goto(base + URL + "?event_type=settings&kind=business_rule")
    row = page.locator("#audit-table tbody tr", has_text="Criteria").filter(
        has=page.locator("td.c-event", has_text="Update")
    )
    after_button = row.locator("td.c-value button.value").nth(1)
    after_popover = page.locator(f"#{after_button.get_attribute('popovertarget')}")
    assert after_button.get_attribute("aria-describedby") == after_popover.get_attribute("id")
    assert not after_popover.is_visible()

    after_button.hover()
    after_popover.wait_for(state="visible")
    text = after_popover.locator("pre").inner_text()
    assert '"value": "urgent"' in text and '"operator": "contains"' in text
    assert text.splitlines()[0] == "{" and text.splitlines()[1] == '  "match": "all",'
    added = after_popover.locator("ins.line").all_inner_texts()
    assert any('"value": "urgent"' in line for line in added)
    assert any('"value": "vip"' in line for line in added)
    assert not any('"match"' in line for line in added)  # unchanged lines are not marked
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "audit-log-popover.png"))
    page.keyboard.press("Escape")
    after_popover.wait_for(state="hidden")

    # Keyboard: Tab from the Property cell reaches the Before value and opens its popover.
    page.mouse.move(0, 0)
    row.locator("td.c-property").click()
    page.keyboard.press("Tab")
    before_button = row.locator("td.c-value button.value").nth(0)
    assert before_button.evaluate("element => element === document.activeElement")
    before_popover = page.locator(f"#{before_button.get_attribute('popovertarget')}")
    before_popover.wait_for(state="visible")
    removed = before_popover.locator("del.line").all_inner_texts()
    assert any('"value": "high"' in line for line in removed)
    assert '"match": "all"' in before_popover.inner_text()
    page.keyboard.press("Escape")
    before_popover.wait_for(state="hidden")
    # Tab onwards moves to the After value and opens its popover instead.
    page.keyboard.press("Tab")
    after_popover.wait_for(state="visible")
    assert not before_popover.is_visible()


def test_paging_older_and_newer(live_server, page, org):
    now = timezone.now()
    with tenant(org):
        for n in range(30):
            recorder.record(
                section="Customer",
                action="create",
                subject_id=n,
                subject_name=f"Customer {n:02d}",
                property="name",
                after=f"Customer {n:02d}",
                occurred_at=now - timedelta(minutes=n),
            )
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    page.goto(base + URL + "?event_type=customer")
    page.select_option("#f-page-size", "25")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"page_size=25"))
    first = subjects(page)
    assert first == [f"Customer {n:02d}" for n in range(25)]
    assert page.locator(".pager [aria-disabled=true]", has_text="Newer").count() == 1

    page.get_by_role("link", name="Older →").click()
    page.wait_for_url(re.compile(r"cursor="))
    assert subjects(page) == [f"Customer {n:02d}" for n in range(25, 30)]
    assert page.locator(".pager [aria-disabled=true]", has_text="Older").count() == 1
    assert "OFFSET" not in page.url and "page=" not in page.url

    page.get_by_role("link", name="← Newer").click()
    page.wait_for_load_state()
    assert subjects(page) == first


def test_page_and_everything_it_loads_answer_without_errors(live_server, page, org, history):
    """The page, its strip, scripts, styles and icon all load: no 4xx, no console errors."""
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    page.goto(base + URL + "?event_type=settings")
    page.wait_for_load_state("networkidle")
    assert page.frame_locator("#volume-strip").locator("[data-day]").count() >= 1
    assert page.locator("link[rel=icon]").count() == 1
    assert failed == []
    assert errors == []


def test_agent_is_refused(live_server, page, org, agent):
    base = live_server.url
    sign_in(page, base, "agent@acme.test")
    response = page.goto(base + URL)
    assert response.status == 403
    assert page.get_by_role("heading", name="You don’t have access to this page").is_visible()
    assert page.get_by_role("link", name="Settings", exact=True).count() == 0


def test_invalid_parameters_show_a_message(live_server, page, org):
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    response = page.goto(base + URL + "?start=2026-02-30&event_type=nonsense")
    assert response.status == 400
    alert = page.get_by_role("alert")
    assert "These filters could not be applied" in alert.inner_text()
    assert "start" in alert.inner_text() and "event_type" in alert.inner_text()


def test_sub_filters_work_without_javascript(live_server, chromium, org, agent, history):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        base = live_server.url
        sign_in(page, base, "admin@acme.test")
        page.goto(base + URL)
        assert not page.locator("#f-authorization-user").is_visible()
        choose_types(page, "authorization")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(r"event_type=authorization"))
        page.select_option("#f-authorization-user", label="Ann Agent (agent@acme.test)")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(rf"user={agent.pk}"))
        assert set(subjects(page)) == {"Ann Agent"}
        # The native popover still opens on click without script.
        button = page.locator("#audit-table button.value").first
        button.click()
        page.locator(f"#{button.get_attribute('popovertarget')}").wait_for(state="visible")
    finally:
        context.close()


def test_export_exports_exactly_the_filtered_set(
    live_server, page, org, history, settings, tmp_path
):
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    settings.EXPORT_DIR = tmp_path
    base = live_server.url
    sign_in(page, base, "admin@acme.test")
    page.goto(base + URL + "?event_type=settings")
    expected = page.locator("#audit-table tbody tr[data-event-id]").count()  # rows, not changes
    assert expected >= 4
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        page.get_by_role("link", name="CSV").click()
        page.locator("[data-export-progress] progress").wait_for(state="visible")
        ready = page.get_by_role("link", name="Download export")
        ready.wait_for(timeout=60_000)
        assert page.locator("[data-export-progress] progress").evaluate("bar => bar.value") == 100
        with page.expect_download() as download_info:
            ready.click()
    body = Path(download_info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == expected
    assert {row["event_type"] for row in rows} == {"settings"}
