"""One date format across the product, and durations as people say them."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core import timefmt


def test_dates_and_moments_read_one_way():
    moment = datetime(2026, 12, 2, 18, 26, 51, tzinfo=UTC)
    assert timefmt.date_text(date(2026, 11, 1)) == "1 Nov 2026"
    assert timefmt.datetime_text(moment, ZoneInfo("Europe/Paris")) == "2 Dec 2026, 19:26:51"
    assert timefmt.datetime_text(moment) == "2 Dec 2026, 18:26:51"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (2, "just now"),
        (45, "45 s ago"),
        (240, "4 min ago"),
        (17670, "4 h 54 min ago"),
        (7200, "2 h ago"),
        (183600, "2 d 3 h ago"),
    ],
)
def test_durations_read_as_people_say_them(seconds, text):
    assert timefmt.ago_text(seconds) == text
