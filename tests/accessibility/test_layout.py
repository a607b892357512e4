"""The layout at desktop and phone widths, in headless Chromium against a live server: the
settings sidebar is a "Menu" disclosure on a phone and always open on a desktop, and a long
user name stretches neither the Performed-by select nor the filter row."""

import re
from typing import Any

import pytest

from accounts.models import RoleGroup
from accounts.permissions import AGENT
from accounts.services import user_create
from core.tenancy import tenant
from tests.accessibility.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Maximiliane Alexandra Bartholomew-Fitzgerald von Montgomery-Smythe of Acme"


def box(locator: Any) -> dict[str, float]:
    return locator.evaluate(
        "element => { const r = element.getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width}; }"
    )


def test_settings_sidebar_is_a_menu_on_a_phone(live_server, open_page, signed_in):
    page = signed_in(open_page(PHONE))
    page.goto(live_server.url + "/settings/")
    sidebar = page.get_by_role("navigation", name="Settings")
    link = sidebar.get_by_role("link", name="Audit Log")
    assert not link.is_visible()
    menu = sidebar.locator("summary", has_text="Menu")
    assert menu.is_visible()
    menu.focus()
    page.keyboard.press("Enter")
    assert link.is_visible()
    # The open menu pushes the page down rather than covering it, and fits the width.
    assert box(sidebar)["right"] <= PHONE["width"]
    assert box(page.locator("main"))["top"] >= box(sidebar)["bottom"]
    link.click()
    page.wait_for_url("**/settings/security/audit-log/")
    assert (
        page.locator("main").evaluate("main => main.getBoundingClientRect().width")
        == (PHONE["width"])
    )


def test_settings_sidebar_is_always_open_on_a_desktop(live_server, open_page, signed_in):
    page = signed_in(open_page(DESKTOP))
    page.goto(live_server.url + "/settings/")
    sidebar = page.get_by_role("navigation", name="Settings")
    assert sidebar.get_by_role("link", name="Audit Log").is_visible()
    assert not sidebar.locator("summary").is_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440", "390"])
def test_a_long_user_name_stretches_no_filter(viewport, live_server, open_page, signed_in, org):
    with tenant(org):
        long_named = user_create(
            email="max@acme.test",
            password=None,
            name=LONG_NAME,
            role_group=RoleGroup.objects.get(name=AGENT),
        )
    page = signed_in(open_page(viewport))
    page.goto(live_server.url + "/settings/security/audit-log/")
    performer = page.locator("#f-performer")
    performer.select_option(value=f"user:{long_named.pk}")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"performer="))
    performer = page.locator("#f-performer")
    assert LONG_NAME in performer.locator("option:checked").inner_text()
    assert box(performer)["width"] <= 16 * 16  # 16rem at most, whatever the name
    assert box(performer)["right"] <= box(page.locator("#audit-filters"))["right"]
    # Search, Rows per page and Apply keep to one line on a desktop.
    if viewport is DESKTOP:
        search, apply = box(page.locator("#f-q")), box(page.get_by_role("button", name="Apply"))
        assert apply["top"] < search["bottom"] and search["top"] < apply["bottom"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
