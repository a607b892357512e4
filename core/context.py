"""Who is acting, for which organisation, from where: carried through requests and tasks."""

import ipaddress
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.conf import settings


@dataclass(frozen=True, slots=True)
class Actor:
    """The performer of a change: a person, an automation or an API client."""

    type: str
    id: str | None
    name: str

    @classmethod
    def for_user(cls, user: Any) -> "Actor":
        return cls("user", str(user.pk), user.name or user.email)

    @classmethod
    def system(cls, name: str = "System") -> "Actor":
        return cls("system", None, name)


SYSTEM = Actor.system()
# Whoever tries to sign in and fails: not signed in, so not anyone the record can name.
ANONYMOUS = Actor("anonymous", None, "Unknown")


@dataclass(frozen=True, slots=True)
class AuditContext:
    org_id: int | None = None
    actor: Actor = SYSTEM
    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AuditContext":
        actor = Actor(**data["actor"]) if data.get("actor") else SYSTEM
        return cls(
            org_id=data.get("org_id"),
            actor=actor,
            ip_address=data.get("ip_address"),
            user_agent=data.get("user_agent"),
            request_id=data.get("request_id"),
        )


_current: ContextVar[AuditContext] = ContextVar("audit_context", default=AuditContext())  # noqa: B039 - frozen


def current() -> AuditContext:
    return _current.get()


def bind(**changes: Any) -> None:
    """Change the current context in place; the enclosing `use()` or middleware restores it."""
    _current.set(replace(_current.get(), **changes))


@contextmanager
def use(context: AuditContext | None = None, **changes: Any) -> Iterator[AuditContext]:
    """Run a block with a context (e.g. a task's, a command's), restoring the outer one after."""
    new = replace(context or _current.get(), **changes)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)


def new_request_id(candidate: str | None = None) -> str:
    """Keep a caller's request id when it is well-formed, so traces join up; otherwise mint one."""
    if candidate and _REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def _valid_ip(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(meta: dict[str, Any]) -> str | None:
    """The socket peer, unless it is a trusted proxy: then the nearest untrusted X-Forwarded-For hop."""
    remote = _valid_ip(meta.get("REMOTE_ADDR") or "")
    if remote is None or not _is_trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _valid_ip(hop)
        if address is None:
            return remote
        if not _is_trusted_proxy(address):
            return address
    return _valid_ip(hops[0]) if hops else remote


def client_ip_for_axes(request: Any) -> str | None:
    return client_ip(request.META)


class RequestIdLogFilter(logging.Filter):
    """Adds the current request id to every log record, so an error can be traced to its request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get().request_id or "-"
        return True
