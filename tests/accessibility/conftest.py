"""Fixtures for the accessibility browser tests: Chromium, pages at a given viewport, and an
organisation with something on every page (a business rule, a failed sign-in, an agent's day)."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from core.context import Actor
from core.tenancy import tenant
from settings_app.services import business_rule_create, business_rule_update
from tests.auditlog.test_viewer_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    assert_no_csp_violation,
    sign_in,
    watch_csp,
)
from tests.insights.conftest import berlin, day, scripted_day  # noqa: F401 - fixtures

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (run `make browsers`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Callable[[dict[str, int]], Any]]:
    """open_page(viewport) -> a new page in a context of that size; every context is closed
    and checked for Content-Security-Policy violations at the end of the test."""
    opened: list[tuple[Any, Any, list[str]]] = []

    def open_(viewport: dict[str, int]) -> Any:
        context = chromium.new_context(viewport=viewport, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(15_000)
        opened.append((context, page, watch_csp(page)))
        return page

    yield open_
    for context, page, problems in opened:
        assert_no_csp_violation(page, problems)
        context.close()


def make_rule(org: Any, admin: Any) -> Any:
    """A business rule created and renamed by the Administrator (its History has two changes)."""
    with tenant(org, actor=Actor.for_user(admin)):
        created = business_rule_create(
            name="VIP routing",
            criteria={
                "match": "all",
                "conditions": [{"field": "priority", "operator": "equals", "value": "high"}],
            },
            actions=[{"type": "set_priority", "value": "urgent"}],
        )
        business_rule_update(rule=created, name="VIP routing (urgent)")
    return created


@pytest.fixture
def rule(org: Any, admin: Any) -> Any:
    return make_rule(org, admin)


@pytest.fixture
def failed_sign_in(org: Any, admin: Any) -> None:
    """Someone tried the Administrator's account with a wrong password."""
    client = Client(REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT="python-requests/2.31")
    response = client.post(
        "/accounts/login/", {"username": "admin@acme.test", "password": "not-the-password"}
    )
    assert response.status_code == 200


@pytest.fixture
def signed_in(live_server: Any, admin: Any) -> Callable[[Any], Any]:
    """signed_in(page) -> the page, signed in as Acme's Administrator."""

    def sign_in_(page: Any) -> Any:
        sign_in(page, live_server.url, "admin@acme.test")
        return page

    return sign_in_
