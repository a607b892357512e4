"""SPEC §8.2's safe defaults, tried as a careless operator and a curious visitor would: DEBUG and
SECRET_KEY, `check --deploy` with the README's HTTPS environment, the Content-Security-Policy,
proxies, session limits, and 404/500 pages that leak nothing and need no database."""

import json
import os
import re
import secrets
import subprocess
import sys
import time
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path
from django.views import defaults

import config.urls as root_urls

ROOT = Path(__file__).resolve().parents[1]
LOGIN = "/accounts/login/"
# What a debug page shows and what the test views' exceptions carry: no error page shows any of it.
LEAKS = ("Traceback", "URLconf", "DATABASE", "SECRET_KEY", "postgres://", "config.urls", "settings")


# --------------------------------------------------------------------------- subprocesses


def server_env(**values: str) -> dict[str, str]:
    """A fresh server's environment: none of the security variables, not under pytest, not
    under the Makefile; the database and Redis URLs kept as a server has them (unused here)."""
    kept = ("PATH", "HOME", "LANG", "DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
    return {name: os.environ[name] for name in kept if name in os.environ} | values


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def loaded_settings(env: dict[str, str], *names: str) -> dict[str, Any]:
    """The named settings as a new process loads them from `env`."""
    code = (
        "import json, config.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}))"
    )
    result = run(env, "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def random_key() -> str:
    return secrets.token_urlsafe(50)


def readme_deploy_env() -> dict[str, str]:
    """The `NAME=value` lines of the README's deployment checklist block (Security)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- deploy-env:.*?-->\s*```sh\n(.*?)```", readme, re.S)
    assert block, "README's Security section lost its deploy-env block"
    lines = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    return dict(line.split("=", 1) for line in lines)


def test_debug_is_off_unless_set():
    key = random_key()
    assert loaded_settings(server_env(SECRET_KEY=key), "DEBUG") == {"DEBUG": False}
    assert loaded_settings(server_env(SECRET_KEY=key, DEBUG="1"), "DEBUG") == {"DEBUG": True}


@pytest.mark.parametrize("key", [None, "auditdesk-local-development-key-change-me-in-production"])
def test_with_debug_off_nothing_starts_on_the_development_key(key):
    env = server_env() if key is None else server_env(SECRET_KEY=key)
    for command in (["-c", "import config.settings"], ["manage.py", "check"]):
        result = run(env, *command)
        assert result.returncode != 0
        assert "ImproperlyConfigured: SECRET_KEY is not set (or is the development key)" in (
            result.stderr
        )


def test_the_development_key_is_fine_for_local_development():
    assert run(server_env(DEBUG="1"), "-c", "import config.settings").returncode == 0


@pytest.mark.slow
def test_check_deploy_passes_with_the_readme_https_environment():
    documented = readme_deploy_env() | {"SECRET_KEY": random_key()}
    assert documented["DEBUG"] == "0"
    result = run(
        server_env(**documented), "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # Without the HTTPS lines the same check fails, naming what is missing.
    bare = {"DEBUG": "0", "SECRET_KEY": documented["SECRET_KEY"]}
    result = run(server_env(**bare), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_https_settings_come_from_the_environment():
    names = (
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "CSRF_TRUSTED_ORIGINS",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_COOKIE_AGE",
        "SESSION_IDLE_TIMEOUT_SECONDS",
    )
    key = random_key()
    assert loaded_settings(server_env(SECRET_KEY=key), *names) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "CSRF_TRUSTED_ORIGINS": [],
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_AGE": 12 * 3600,
        "SESSION_IDLE_TIMEOUT_SECONDS": 1800,
    }
    production = server_env(
        SECRET_KEY=key,
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        SESSION_COOKIE_SECURE="1",
        CSRF_COOKIE_SECURE="1",
        CSRF_TRUSTED_ORIGINS="https://auditdesk.example.com",
        TRUSTED_PROXIES="10.0.0.0/8",
        SESSION_COOKIE_AGE="3600",
        SESSION_IDLE_TIMEOUT_SECONDS="600",
    )
    assert loaded_settings(production, *names) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "CSRF_TRUSTED_ORIGINS": ["https://auditdesk.example.com"],
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SESSION_COOKIE_AGE": 3600,
        "SESSION_IDLE_TIMEOUT_SECONDS": 600,
    }


@pytest.mark.slow
def test_the_https_environment_reaches_the_responses():
    """The sign-in page served by a process configured like production: HTTP is redirected, and
    over HTTPS there is HSTS and the CSRF cookie is Secure."""
    code = """
import django, json
django.setup()
from django.test import Client
plain = Client().get("/accounts/login/")
secure = Client().get("/accounts/login/", secure=True)
print(json.dumps({
    "redirect": [plain.status_code, plain.get("Location")],
    "hsts": secure.get("Strict-Transport-Security"),
    "csrf_secure": bool(secure.cookies["csrftoken"]["secure"]),
}))
"""
    production = readme_deploy_env() | {"SECRET_KEY": random_key(), "ALLOWED_HOSTS": "testserver"}
    env = server_env(**production, DJANGO_SETTINGS_MODULE="config.settings")
    result = run(env, "-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "redirect": [301, "https://testserver/accounts/login/"],
        "hsts": "max-age=31536000; includeSubDomains; preload",
        "csrf_secure": True,
    }


# --------------------------------------------------------------------------- in process


def directives(response: HttpResponse) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    parts = (part.split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def test_every_kind_of_page_carries_a_policy_without_unsafe_inline(org, admin_client, client):
    responses = [
        client.get(LOGIN),
        client.get("/no-such-page/"),
        admin_client.get("/"),
        admin_client.get("/settings/security/audit-log/"),
        admin_client.get("/settings/security/audit-log/volume.svg"),
        admin_client.get("/settings/users/"),
        admin_client.get("/api/docs/"),
    ]
    for response in responses:
        policy = directives(response)
        for kind in ("script-src", "style-src"):
            sources = policy.get(kind, policy["default-src"])
            assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
            assert sources == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]


def test_templates_carry_no_inline_script_style_or_handler():
    """What the policy would block: an inline <script> or <style>, a style="" attribute, an
    on…="" handler or a javascript: URL, in any template of the project."""
    inline = re.compile(
        r"<script(?![^>]*\ssrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
    )
    found = [
        f"{template.relative_to(ROOT)}: {match.group(0)}"
        for folder in [ROOT / "templates", *ROOT.glob("*/templates")]
        for template in folder.rglob("*.html")
        for match in inline.finditer(template.read_text())
        if "json" not in match.group(0)  # <script type="application/json"> is data, not code
    ]
    assert found == []


@pytest.mark.django_db
def test_x_forwarded_proto_counts_only_from_trusted_proxies(settings, client):
    settings.TRUSTED_PROXIES = [ip_network("10.0.0.0/8")]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    claimed = {"HTTP_X_FORWARDED_PROTO": "https"}
    direct = client.get(LOGIN, REMOTE_ADDR="203.0.113.9", **claimed)
    assert direct.status_code == 301 and direct["Location"].startswith("https://")
    assert client.get(LOGIN, REMOTE_ADDR="10.1.2.3", **claimed).status_code == 200
    proxied_http = client.get(LOGIN, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_PROTO="http")
    assert proxied_http.status_code == 301


def age_session(client: Any, *, signed_in: int | None = None, seen: int) -> None:
    """Backdate the session's sign-in and last-request times by that many seconds."""
    from config.security import SEEN_AT, SIGNED_IN_AT

    ages = {SEEN_AT: seen} if signed_in is None else {SEEN_AT: seen, SIGNED_IN_AT: signed_in}
    session = client.session
    now = int(time.time())
    for key, seconds in ages.items():
        session[key] = now - seconds
    session.save()


PAGE = "/settings/users/"


def test_a_session_ends_after_the_idle_timeout(settings, org, admin_client):
    assert admin_client.get(PAGE).status_code == 200
    age_session(admin_client, seen=settings.SESSION_IDLE_TIMEOUT_SECONDS + 1)
    response = admin_client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in admin_client.session
    assert admin_client.get(PAGE).status_code == 302


def test_a_request_before_the_idle_timeout_keeps_the_session(settings, org, admin_client):
    assert admin_client.get(PAGE).status_code == 200
    age_session(admin_client, seen=settings.SESSION_IDLE_TIMEOUT_SECONDS - 120)
    assert admin_client.get(PAGE).status_code == 200
    from config.security import SEEN_AT

    assert int(time.time()) - admin_client.session[SEEN_AT] < 60  # the request was activity


def test_a_session_ends_12_hours_after_sign_in_however_busy(settings, org, admin_client):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert admin_client.get(PAGE).status_code == 200
    age_session(admin_client, signed_in=settings.SESSION_COOKIE_AGE + 1, seen=5)
    response = admin_client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


# --------------------------------------------------------------------------- error pages
# The tests below have no database: no connection open (closed by `no_database`) and
# pytest-django refuses any query, so the pages are shown to render without one. They use this
# module as the URLconf: the project's own, plus two views.


@pytest.fixture
def no_database(django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        connections.close_all()


def _missing(request: HttpRequest) -> HttpResponse:
    raise Http404("No Customer matches the given query (config.urls, DATABASE_URL)")


def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("postgres://auditdesk_web:hunter2@db/auditdesk DATABASE settings")


urlpatterns = [
    path("test-only/missing/", _missing),
    path("test-only/broken/", _broken),
    path("api/v1/test-only/broken/", _broken),
    path("", include("config.urls")),
]
handler404 = getattr(root_urls, "handler404", defaults.page_not_found)
handler500 = getattr(root_urls, "handler500", defaults.server_error)


def assert_leaks_nothing(response: HttpResponse) -> str:
    page = response.content.decode()
    for leak in (*LEAKS, "hunter2", "Customer"):
        assert leak not in page
    return page


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/no-such-page/", "/test-only/missing/"])
def test_a_404_page_leaks_nothing(no_database, client, url):
    response = client.get(url)
    assert response.status_code == 404
    page = assert_leaks_nothing(response)
    assert "<h1>Page not found</h1>" in page and 'href="/"' in page
    assert "Content-Security-Policy" in response


@pytest.mark.urls(__name__)
def test_a_404_under_the_api_is_json(no_database, client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "param": None, "params": {}},
        "status": 404,
        "request_id": response["X-Request-ID"],
    }


@pytest.mark.urls(__name__)
def test_a_500_page_leaks_nothing_but_gives_the_request_reference(no_database):
    from django.test import Client

    client = Client(raise_request_exception=False)
    response = client.get("/test-only/broken/")
    assert response.status_code == 500
    page = assert_leaks_nothing(response)
    assert "<h1>Something went wrong</h1>" in page
    assert f"<code>{response['X-Request-ID']}</code>" in page
    assert "Content-Security-Policy" in response

    api = client.get("/api/v1/test-only/broken/")
    assert api.status_code == 500
    assert api.json() == {
        "error": {
            "code": "server_error",
            "message": "Server error.",
            "param": None,
            "params": {},
        },
        "status": 500,
        "request_id": api["X-Request-ID"],
    }


def test_make_test_uses_its_own_redis_database(settings):
    """`make test` runs on Redis database TEST_REDIS_DB (1), never the demo's /0, so a test
    run beside `make run` cannot flush the demo's cache or hand its worker test tasks."""
    wanted = os.environ.get("AUDITDESK_TEST_REDIS_DB")
    if wanted is None:
        pytest.skip("not run through `make test`")
    for url in (settings.REDIS_URL, settings.CELERY_BROKER_URL):
        assert url.rsplit("/", 1)[1] == wanted != "0"
