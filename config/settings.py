"""Settings for every environment, driven by environment variables with safe local defaults."""

import hashlib
import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Security: DEBUG and SECRET_KEY (SPEC §8.2; README "Security") -----------------------------
DEBUG = env_bool("DEBUG", False)  # `make run` sets DEBUG=1
# With DEBUG off, nothing starts on the development key, unless the process is a local run on
# throwaway data: the test suite (pytest sets PYTEST_VERSION, which the servers and commands
# that tests start inherit) or the Makefile's tools (ALLOW_DEVELOPMENT_SECRET_KEY=1: `make
# test`'s check, benchmarks, fuzzing). The key signs sessions and derives AUDIT_MAC_KEY.
DEVELOPMENT_SECRET_KEY = "auditdesk-local-development-key-change-me-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY
if (
    SECRET_KEY == DEVELOPMENT_SECRET_KEY
    and not DEBUG
    and not os.environ.get("PYTEST_VERSION")
    and not env_bool("ALLOW_DEVELOPMENT_SECRET_KEY", False)
):
    raise ImproperlyConfigured(
        "SECRET_KEY is not set (or is the development key) and DEBUG is off: refusing to start. "
        "Set SECRET_KEY to a long random value, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'` "
        "(or DEBUG=1 for local development only)."
    )
# --- end of DEBUG and SECRET_KEY ---------------------------------------------------------------
# The key of every audit row's MAC (auditlog/mac.py): outside the database, like SECRET_KEY.
# Unset, it is derived from SECRET_KEY; rotating it leaves sealed rows valid (sealing checks
# MACs once), so rotate right after a seal.
AUDIT_MAC_KEY = (
    os.environ["AUDIT_MAC_KEY"].encode()
    if os.environ.get("AUDIT_MAC_KEY")
    else hashlib.sha256(b"auditdesk audit row MAC key|" + SECRET_KEY.encode()).digest()
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
TRUSTED_PROXIES = [ipaddress.ip_network(item, strict=False) for item in env_list("TRUSTED_PROXIES")]
EXPORT_DIR = Path(os.environ.get("EXPORT_DIR", BASE_DIR / "var" / "exports"))
# Signed digests (docs/trust.md): the Ed25519 private key's PEM file (never in the database;
# `make run` creates one), older public keys still accepted (base64 raw, comma-separated),
# and where every digest is also written as a file.
AUDIT_SIGNING_KEY = Path(
    os.environ.get("AUDIT_SIGNING_KEY", BASE_DIR / "var" / "audit-signing-key.pem")
)
AUDIT_VERIFY_KEYS = env_list("AUDIT_VERIFY_KEYS")
AUDIT_DIGEST_DIR = Path(os.environ.get("AUDIT_DIGEST_DIR", BASE_DIR / "var" / "digests"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# The tenant every organisation-owned row belongs to (core.tenancy.organization_model()).
ORGANIZATION_MODEL = "accounts.Organization"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "auditlog",
    "accounts",
    "billing",
    "settings_app",
    "worksession",
    "conversations",
    "demo",
]

MIDDLEWARE = [
    "config.security.TrustedProxySchemeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.security.SessionLifetimeMiddleware",
    "core.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.RejectNulMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
            # One date format everywhere: the moment, day and ago filters.
            "builtins": ["core.template_filters"],
        },
    },
]

# Two logins (docs/trust.md): the application's restricted login, and the schema's owner for
# migrations and platform jobs (sealing, retention, day counts, partitions). Both use our
# backend, which writes buffered audit rows just before COMMIT, in the same network round
# trip (auditlog/db/base.py).
_CONN_MAX_AGE = int(os.environ.get("CONN_MAX_AGE", "60"))
_TEST_DATABASE = os.environ.get("TEST_DATABASE_NAME", "test_auditdesk")
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://auditdesk_web@127.0.0.1:5432/auditdesk"),
        conn_max_age=_CONN_MAX_AGE,
        conn_health_checks=True,
    ),
    "owner": dj_database_url.parse(
        os.environ.get("DATABASE_OWNER_URL", "postgres://auditdesk_owner@127.0.0.1:5432/auditdesk"),
        conn_max_age=_CONN_MAX_AGE,
        conn_health_checks=True,
    ),
}
for _alias, _database in DATABASES.items():
    _database["ENGINE"] = "auditlog.db"
    _database["TEST"] = {"NAME": _TEST_DATABASE}
# In tests the owner's alias is the same database: created once (by the owner, see
# auditlog/db/creation.py) and flushed once between transactional tests.
DATABASES["owner"]["TEST"]["MIRROR"] = "default"
# The application's alias knows its owner's: migrate, flush and test databases go there.
DATABASES["default"]["OWNER_ALIAS"] = "owner"
DATABASE_ROUTERS = ["auditlog.roles.OwnerRouter"]

# DATABASE_POOL=N: a psycopg connection pool of up to N connections per process (Django 5.2)
# instead of persistent connections; pooling requires CONN_MAX_AGE = 0. bench/REPORT.md
# compares no reuse, persistent connections and the pool under concurrent load.
if int(os.environ.get("DATABASE_POOL", "0")) > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ["DATABASE_POOL"]),
        "timeout": 10,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UserBackend",
]
# AUTH_PASSWORD_VALIDATORS: in the application security block below.
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Sign-in lockout (django-axes): which lockouts, in the application security block below.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in form field that carries the email
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.context.client_ip_for_axes"
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

# --- Security: HTTPS, Content-Security-Policy, sessions (SPEC §8.2; README "Security") --------
# Each HTTPS setting comes from the environment variable of the same name. All are off by
# default so that `make run` and the tests work over plain HTTP; README "Security" gives the
# production values, and `manage.py check --deploy` warns about any left off.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Behind a proxy that terminates TLS, its X-Forwarded-Proto tells whether the client used HTTPS;
# it is believed only from TRUSTED_PROXIES (config/security.py drops it from anyone else).
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script, style or event handler anywhere: templates load static files only, so the
# policy needs no 'unsafe-inline' (the Swagger UI page adds its own stylesheet's needs in
# config/urls.py). Framing stays with X-Frame-Options: DENY, SAMEORIGIN for the volume strip.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
    },
}

# A sign-in lasts at most SESSION_COOKIE_AGE (12 h) and ends after SESSION_IDLE_TIMEOUT_SECONDS
# (30 min) without a request from the browser (config/security.py): Django's own expiry moves
# forward each time the session is saved, so it bounds neither.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))
SESSION_IDLE_TIMEOUT_SECONDS = int(os.environ.get("SESSION_IDLE_TIMEOUT_SECONDS", "1800"))
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# --- end of HTTPS, Content-Security-Policy, sessions -------------------------------------------

CACHES = {
    "default": {
        # Django's RedisCache, with one Redis client per connection pool (config/cache.py).
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "auditdesk",
        # Nothing that records a change waits on Redis; callers of the cache (API rate
        # limits) give up quickly when it is unreachable.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Request bodies are JSON only (a form or multipart body answers 415), so the schema
    # declares each body once; JSON nested too deeply is a 400, not a RecursionError
    # (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["config.parsers.SafeJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api_access.TokenRateThrottle"],
}
# Requests per API token ("N/second|minute|hour|day"); over it the API answers 429 + Retry-After.
API_TOKEN_RATE = os.environ.get("API_TOKEN_RATE", "600/minute")
# Background audit exports: how long a finished file can be downloaded before it is deleted.
EXPORT_TTL_HOURS = int(os.environ.get("EXPORT_TTL_HOURS", "24"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Auditdesk API",
    "DESCRIPTION": "The System Audit Log and the support-desk objects it records.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Schema generation only calls `.none()` on it; the unscoped base manager works for every
    # model, while tenant-scoped `objects` refuses to run with no organisation in scope.
    "DEFAULT_QUERY_MANAGER": "_base_manager",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api_schema.document_error_responses",
    ],
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}
# Task modules outside an app's tasks.py (autodiscovery only looks there).
CELERY_IMPORTS = ("audit_read.exports",)
# Exports requested while the broker was down are sent once it is back.
CELERY_BEAT_SCHEDULE["audit-exports-enqueue-waiting"] = {
    "task": "auditlog.exports_enqueue_waiting",
    "schedule": 30.0,
}
CELERY_BEAT_SCHEDULE["audit-exports-delete-expired"] = {
    "task": "auditlog.exports_delete_expired",
    "schedule": timedelta(days=1),
}
# The audit log's trust jobs (auditlog/tasks.py): seal, verify, partitions ahead, retention.
CELERY_BEAT_SCHEDULE["audit-seal-chains"] = {
    "task": "auditlog.seal_chains",
    "schedule": float(os.environ.get("AUDIT_SEAL_INTERVAL_SECONDS", "300")),
}
CELERY_BEAT_SCHEDULE["audit-verify-chains"] = {
    "task": "auditlog.verify_chains",
    "schedule": timedelta(hours=1),
}
CELERY_BEAT_SCHEDULE["audit-verify-chains-full"] = {
    "task": "auditlog.verify_chains",
    "schedule": timedelta(days=1),
    "kwargs": {"full": True},
}
# Finished days' event counts for the volume strip (auditlog/daycounts.py).
CELERY_BEAT_SCHEDULE["audit-count-days"] = {
    "task": "auditlog.count_days",
    "schedule": float(os.environ.get("AUDIT_DAY_COUNT_INTERVAL_SECONDS", "300")),
}
CELERY_BEAT_SCHEDULE["audit-partitions-ensure"] = {
    "task": "auditlog.partitions_ensure",
    "schedule": timedelta(days=1),
}
CELERY_BEAT_SCHEDULE["audit-retention-purge"] = {
    "task": "auditlog.retention_purge",
    "schedule": timedelta(days=1),
}
# Sealing waits this long (and for older open transactions) before an event is sealed.
AUDIT_SEAL_MARGIN_SECONDS = float(os.environ.get("AUDIT_SEAL_MARGIN_SECONDS", "60"))
# Organisations sealed at a time (threads, a database connection each; auditlog/integrity.py).
AUDIT_SEAL_WORKERS = int(os.environ.get("AUDIT_SEAL_WORKERS", "2"))
CELERY_BEAT_SCHEDULE["route-queued-conversations"] = {
    "task": "worksession.tasks.route_all_organizations",
    "schedule": 10.0,
}
CELERY_BEAT_SCHEDULE["detect-heartbeat-lapses"] = {
    "task": "worksession.tasks.detect_heartbeat_lapses",
    "schedule": 15.0,
}
CELERY_BEAT_SCHEDULE["close-stale-conversations"] = {
    "task": "conversations.tasks.close_stale_conversations_all",
    "schedule": 300.0,
}
# A work session with no sign of life (login or workspace heartbeat) for this long has ended.
WORK_SESSION_TIMEOUT_SECONDS = int(os.environ.get("WORK_SESSION_TIMEOUT_SECONDS", "1800"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# ---- Application security (SPEC §8.2): API token scopes in the schema, background export
# ---- quotas, sign-in throttling and password validation. One block, appended; it overrides
# ---- the sign-in settings above.

# API tokens: each operation documents the scope it needs (accounts.api_schema).
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "accounts.api_schema.ScopedAutoSchema"

# Background exports per organisation (audit_read/export_quota.py): pending or running at once,
# started in any 24 hours, and bytes of finished files kept; over one, POST /api/v1/exports/
# answers 429 with Retry-After. Expired files are deleted hourly, so the disk limit holds.
EXPORT_MAX_CONCURRENT = int(os.environ.get("EXPORT_MAX_CONCURRENT", "3"))
EXPORT_MAX_PER_DAY = int(os.environ.get("EXPORT_MAX_PER_DAY", "50"))
EXPORT_MAX_DISK_BYTES = int(os.environ.get("EXPORT_MAX_DISK_BYTES", str(5 * 1024**3)))
CELERY_BEAT_SCHEDULE["audit-exports-delete-expired"]["schedule"] = timedelta(hours=1)

# Sign-in lockout (django-axes, handler accounts.backends.SignInLockoutHandler), two lockouts:
# - an account from one address: AXES_FAILURE_LIMIT failures lock that account for that
#   address only. Attempts from many addresses never lock the owner out, so nobody can lock
#   an account cheaply (the owner's own address keeps working);
# - an address alone: SIGNIN_IP_FAILURE_LIMIT failures on any accounts lock the address, so
#   one address hammering many accounts is stopped (higher, for offices behind one address).
# A successful sign-in clears only its own account-and-address count, never the address's.
# Guessing one password from many addresses is bounded per address and by the validators
# below. Both lockouts last AXES_COOLOFF_TIME from the last failure.
AXES_HANDLER = "accounts.backends.SignInLockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
SIGNIN_IP_FAILURE_LIMIT = int(os.environ.get("SIGNIN_IP_FAILURE_LIMIT", "20"))

# Passwords too close to the user's own email or name are refused (the forms pass the user).
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# ---- End of the application security block.

# ---- A complete and truthful record (SPEC §8.3): support access ends by itself at its
# ---- expiry, disabled by `system` with metadata.reason "expired" (settings_app/tasks.py).
CELERY_BEAT_SCHEDULE["support-access-expire"] = {
    "task": "settings_app.tasks.support_access_expire_all",
    "schedule": 60.0,
}
# ---- End of the complete-record block.
