"""What "now" is for recorded events: the wall clock, unless a replay (seed_demo) sets another."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_source: ContextVar[Callable[[], datetime] | None] = ContextVar("audit_clock", default=None)


def now() -> datetime:
    source = _source.get()
    # datetime.now(UTC) is django.utils.timezone.now() under USE_TZ = True (config/settings.py),
    # without its settings lookup on every audited save.
    return source() if source is not None else datetime.now(UTC)


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, events and domain timestamps take their time from `source`."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)
