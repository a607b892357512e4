"""The request-level side of the security settings: who may say a request came over HTTPS, and
how long a sign-in lasts (config/settings.py, README "Security")."""

import ipaddress
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse

# Session keys. The last-seen time is rewritten at most every TOUCH_SECONDS, so a page that
# polls (Team Pulse, heartbeats) costs one session write a minute rather than one a request.
SIGNED_IN_AT = "security.signed_in_at"
SEEN_AT = "security.seen_at"
TOUCH_SECONDS = 60


def _from_trusted_proxy(request: HttpRequest) -> bool:
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in settings.TRUSTED_PROXIES)


class TrustedProxySchemeMiddleware:
    """X-Forwarded-Proto counts only when the peer is one of TRUSTED_PROXIES, as X-Forwarded-For
    does (core.context.client_ip): a client reaching the server directly cannot claim HTTPS
    to skip the redirect. Placed before SecurityMiddleware, which reads the scheme."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not _from_trusted_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


class SessionLifetimeMiddleware:
    """Ends a signed-in session SESSION_COOKIE_AGE after sign-in, or once no request has come for
    SESSION_IDLE_TIMEOUT_SECONDS; the request then goes on signed out. Wall-clock time, not
    core.clock: a replayed history does not age anyone's session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            session = request.session
            now = int(time.time())
            signed_in_at = session.setdefault(SIGNED_IN_AT, now)
            seen_at = session.get(SEEN_AT, now)
            if (
                now - signed_in_at >= settings.SESSION_COOKIE_AGE
                or now - seen_at >= settings.SESSION_IDLE_TIMEOUT_SECONDS
            ):
                session.flush()
                request.user = AnonymousUser()
            elif now - seen_at >= TOUCH_SECONDS or SEEN_AT not in session:
                session[SEEN_AT] = now
        return self.get_response(request)
