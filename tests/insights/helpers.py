"""Helpers for the insight tests: simulated time, clients, and reading pages' data attributes."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.test import Client

from auditlog import clock


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Everything recorded in the block happens at `moment` (auditlog.clock)."""
    with clock.use(lambda: moment):
        yield


def client_for(user: Any) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="pytest-insights/1.0")
    client.force_login(user)
    return client


def attributes(html: str, tag_pattern: str, attribute: str) -> list[str]:
    """Values of `attribute` on the tags whose opening text matches `tag_pattern`."""
    values = []
    for tag in re.findall(r"<[^>]*" + tag_pattern + r"[^>]*>", html):
        found = re.search(rf'\b{attribute}="([^"]*)"', tag)
        if found:
            values.append(found.group(1))
    return values
