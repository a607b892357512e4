"""The Audit Log by keyboard alone, in headless Chromium against a live server.

From the address bar (focus at the document's start) the skip links lead into the events and
to the first After value, whose popover opens and closes with Escape; the popovers sit beside
their cell, never over it; the volume strip is one tab stop whose days the arrow keys move
between; every date shows its exact UTC time without a pointer.
"""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.context import Actor
from core.tenancy import tenant
from settings_app.services import shortcut_create
from tests.accessibility.conftest import DESKTOP, PHONE, make_rule
from tests.insights.helpers import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URL = "/settings/security/audit-log/"
FIRST_AFTER = '#audit-table tbody button.value[popovertarget$="-after"]'
MAX_PRESSES = 10


def focused(page: Any, locator: Any) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def focused_text(page: Any) -> str:
    return page.evaluate("document.activeElement && document.activeElement.textContent.trim()")


def box(locator: Any) -> dict[str, float]:
    return locator.evaluate(
        "element => { const r = element.getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; }"
    )


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["bottom"] <= b["top"]
        or b["bottom"] <= a["top"]
        or a["right"] <= b["left"]
        or b["right"] <= a["left"]
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_first_after_value_by_keyboard_alone(
    viewport, live_server, open_page, signed_in, org, admin
):
    page = signed_in(open_page(viewport))
    make_rule(org, admin)  # after signing in: the rule's rows are the newest
    page.goto(live_server.url + URL)
    button = page.locator(FIRST_AFTER).first
    popover = page.locator(f"#{button.get_attribute('popovertarget')}")
    presses: list[str] = []

    def press(key: str) -> None:
        presses.append(key)
        page.keyboard.press(key)

    # As if arriving from the address bar: the first Tab lands on the skip link, shown on focus.
    press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert focused(page, skip)
    skip_box = box(skip)
    assert skip_box["top"] >= 0 and skip_box["bottom"] <= viewport["height"]
    press("Tab")
    assert focused_text(page) == "Skip to events"
    press("Enter")
    while not focused(page, button) and len(presses) < MAX_PRESSES:
        press("Tab")
    assert focused(page, button), f"after {presses}, focus is on {focused_text(page)!r}"
    popover.wait_for(state="visible")  # focus opens it
    print(f"{viewport['width']} px: {len(presses)} key presses: {', '.join(presses)}")
    assert len(presses) <= MAX_PRESSES, presses
    page.keyboard.press("Enter")  # and Enter pins it open
    page.wait_for_timeout(200)
    assert popover.is_visible()
    assert not overlaps(box(popover), box(button))

    page.keyboard.press("Escape")
    popover.wait_for(state="hidden")
    assert focused(page, button)
    assert button.get_attribute("aria-expanded") == "false"


def test_skip_to_main_content_on_every_page(live_server, open_page, signed_in):
    page = signed_in(open_page(DESKTOP))
    page.goto(live_server.url + "/settings/business-rules/new/")
    page.keyboard.press("Tab")
    assert focused_text(page) == "Skip to main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # The first control of the page's own content, past the top bar and the settings menu.
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert page.evaluate("document.activeElement.id") == "id_name"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_popover_sits_below_or_above_its_cell_never_over_it(
    viewport, live_server, open_page, signed_in, org, admin
):
    with tenant(org, actor=Actor.for_user(admin)):
        for n in range(30):
            shortcut_create(name=f"Reply {n:02d}", text=f"Thanks for writing in ({n})! " * 8)
    page = signed_in(open_page(viewport))
    page.goto(live_server.url + URL + "?event_type=settings&page_size=100")
    buttons = page.locator(FIRST_AFTER)

    # Near the top of the window: below the cell.
    first = buttons.first
    first.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    first.hover()
    popover = page.locator(f"#{first.get_attribute('popovertarget')}")
    popover.wait_for(state="visible")
    assert box(popover)["top"] >= box(first)["bottom"]
    assert not overlaps(box(popover), box(first))

    # The pointer moving down onto the next row passes through the popover, which closes.
    below = box(first)["bottom"] + 12
    page.mouse.move(box(first)["left"] + 4, below)
    popover.wait_for(state="hidden")

    # At the bottom of the window, with no room below: above the cell.
    low = buttons.nth(10)
    low.evaluate("element => element.scrollIntoView({block: 'end'})")
    low.hover()
    low_popover = page.locator(f"#{low.get_attribute('popovertarget')}")
    low_popover.wait_for(state="visible")
    assert box(low_popover)["bottom"] <= box(low)["top"]
    assert not overlaps(box(low_popover), box(low))
    page.keyboard.press("Escape")
    low_popover.wait_for(state="hidden")


def test_volume_strip_is_one_tab_stop_with_arrow_keys(live_server, open_page, signed_in, org):
    now = timezone.now()
    today = now.astimezone(org.tz).date()
    with tenant(org):
        for days_ago in (1, 3):
            with at(now - timedelta(days=days_ago)):
                shortcut_create(name=f"Shortcut {days_ago}", text="hello")
    page = signed_in(open_page(DESKTOP))
    page.goto(live_server.url + URL + "?event_type=settings")
    strip = page.frame_locator("#volume-strip")
    days = strip.locator("a[data-day]")
    days.first.wait_for()
    assert days.count() == 4  # from the first day with events to today
    assert strip.locator('a[data-day][tabindex="0"]').count() == 1
    assert strip.locator('a[data-day][tabindex="0"]').get_attribute("data-day") == today.isoformat()

    # Tab from the Reset link enters the strip on one day; the next Tab leaves it for the table.
    page.get_by_role("link", name="Reset").focus()
    page.keyboard.press("Tab")
    current = strip.locator("a[data-day]:focus")
    assert current.get_attribute("data-day") == today.isoformat()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    chosen = (today - timedelta(days=3)).isoformat()
    assert strip.locator("a[data-day]:focus").get_attribute("data-day") == chosen
    assert strip.locator('a[data-day][tabindex="0"]').get_attribute("data-day") == chosen
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#audit-table') !== null")

    # Back into the strip (Shift+Tab), on the day chosen last; Enter shows that day.
    page.keyboard.press("Shift+Tab")
    assert strip.locator("a[data-day]:focus").get_attribute("data-day") == chosen
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"\?start={chosen}&end={chosen}&event_type=settings"))
    assert page.locator("#audit-table tbody tr[data-event-id]").count() >= 1


def test_dates_show_their_utc_time_without_a_pointer(
    live_server, open_page, signed_in, rule, berlin
):
    page = signed_in(open_page(DESKTOP))
    page.goto(live_server.url + URL)
    time = page.locator("#audit-table tbody time").first
    title = time.get_attribute("title")
    assert title.endswith(" UTC")
    shown = time.evaluate("element => getComputedStyle(element, '::after').content")
    assert shown == f'"{title}"'

    # Read in UTC, a date says it once.
    page.goto(live_server.url + URL + "?zone=UTC")
    time = page.locator("#audit-table tbody time").first
    assert time.get_attribute("datetime")[11:19] in time.inner_text()  # hh:mm:ss, in UTC
    assert time.evaluate("element => getComputedStyle(element, '::after').content") == "none"
