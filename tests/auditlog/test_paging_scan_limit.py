"""Free-text and IP searches look through a bounded number of events per page (paging.SCAN_LIMIT).

No index serves `q` or `ip` (they would slow every write), so one page looks at no more than
SCAN_LIMIT events of the other filters: a rare term costs the same on any log size. A page
may then be short and still have a next link that continues the search; following the links
forward and back must still give every match exactly once, in order.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from audit_read import filters, paging
from auditlog.recorder import record
from core import context
from core.context import Actor
from tests.auditlog.api_helpers import get_json

BASE = datetime(2025, 6, 1, tzinfo=UTC)
MATCHES = {3, 4, 17, 18, 19, 20, 21, 40, 41, 77, 78, 79}  # positions of "needle" events


@pytest.fixture
def haystack(org, admin):
    """90 events, a few of them named "needle …" and from 192.0.2.1, three to a timestamp."""
    with transaction.atomic():
        for i in range(90):
            with context.use(ip_address="192.0.2.1" if i in MATCHES else "198.51.100.2"):
                record(
                    section="Session",
                    action="login",
                    subject_id=admin.pk,
                    subject_name=("needle " if i in MATCHES else "hay ") + str(i),
                    actor=Actor.for_user(admin),
                    occurred_at=BASE + timedelta(seconds=i // 3),
                )
    return org


def walk(client, params):
    status, page = get_json(client, "/api/v1/audit-events/", params)
    assert status == 200
    pages = [page]
    while page["next"]:
        status, page = get_json(client, page["next"])
        assert status == 200
        pages.append(page)
    return pages


@pytest.mark.parametrize("search", [{"q": "needle"}, {"ip": "192.0.2.1"}])
def test_a_bounded_search_still_finds_every_match_once_forward_and_back(
    haystack, admin_client, monkeypatch, search
):
    monkeypatch.setattr(paging, "SCAN_LIMIT", 7)
    params = {"section": "Session", "end": "2025-06-01", "page_size": 4, **search}
    pages = walk(admin_client, params)
    names = [e["subject"]["name"] for p in pages for e in p["results"]]
    expected = [f"needle {i}" for i in sorted(MATCHES, reverse=True)]
    assert names == expected
    # Some pages stopped at the bound: fewer than 4 events, yet a link onwards.
    assert any(len(p["results"]) < 4 and p["next"] for p in pages)

    back, page = [], pages[-1]
    while page["previous"]:
        status, page = get_json(admin_client, page["previous"])
        assert status == 200
        back = [e["subject"]["name"] for e in page["results"]] + back
    assert back + [e["subject"]["name"] for e in pages[-1]["results"]] == expected


def test_without_a_bound_pages_are_full(haystack, admin_client):
    pages = walk(admin_client, {"q": "needle", "end": "2025-06-01", "page_size": 4})
    assert [len(p["results"]) for p in pages] == [4, 4, 4]


def test_the_viewer_pages_a_bounded_search_the_same_way(haystack, admin, monkeypatch):
    monkeypatch.setattr(paging, "SCAN_LIMIT", 5)
    params = {"q": "needle", "end": "2025-06-01"}
    queryset, errors = filters.filter_events(haystack, params)
    assert not errors
    base = filters.scan_base(haystack, params)
    assert base is not None and filters.scan_base(haystack, {"end": "2025-06-01"}) is None
    key = filters.filters_key(haystack, params)
    seen, cursor = [], None
    while True:
        page = paging.keyset_page(queryset, cursor, 3, key, scan_base=base)
        seen += [event.subject_name for event in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"needle {i}" for i in sorted(MATCHES, reverse=True)]


def test_the_page_says_how_far_a_short_search_page_looked(haystack, admin_client, monkeypatch):
    monkeypatch.setattr(paging, "SCAN_LIMIT", 7)
    page = admin_client.get(
        "/settings/security/audit-log/", {"q": "needle", "end": "2025-06-01", "page_size": 25}
    ).content.decode()
    assert re.search(
        r"This page searched 7 events, back to \d+ \w{3} 2025, \d\d:\d\d:\d\d;", page
    ), re.search(r"This page searched[^<]*", page)
    assert 'rel="next"' in page
    full = admin_client.get(
        "/settings/security/audit-log/", {"end": "2025-06-01", "page_size": 25}
    ).content.decode()
    assert "This page searched" not in full
