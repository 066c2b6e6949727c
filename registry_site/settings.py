"""Django settings: a mapping of the validated Moorage configuration onto Django's names.

Nothing here decides behaviour on its own; see ``config_schema.json`` for every key.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from registry_site.config import ConfigError, load_config

BASE_DIR = Path(__file__).resolve().parent.parent

try:
    MOORAGE = load_config()
except ConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from None

DATA_DIR = Path(MOORAGE["data_dir"])
if not DATA_DIR.is_absolute():
    DATA_DIR = (Path.cwd() / DATA_DIR).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if MOORAGE["secret_key"]:
        return MOORAGE["secret_key"]
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting at once agree on one key.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = MOORAGE["debug"]
ALLOWED_HOSTS = ["*"]
# The token audience and challenge realm come from the Host header unless server_hostname is
# set; never from X-Forwarded-Host, which any client can send.
USE_X_FORWARDED_HOST = False

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
    "common",
    "accounts",
    "organizations",
    "storagebackends",
    "repositories",
    "oci",
    "tasks",
    "registry_site",
]

MIDDLEWARE = [
    "registry_site.middleware.MetricsMiddleware",
    "registry_site.middleware.BackendUnavailableMiddleware",
    "registry_site.middleware.RejectNulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files from STATIC_ROOT in production, no web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "registry_site.middleware.FrameAncestorsMiddleware",
    # innermost: its 413 still passes through the security-header middleware above
    "registry_site.middleware.RequestBodyLimitMiddleware",
]
# /v2/<name>/tags/list must not be redirected to a trailing-slash URL.
APPEND_SLASH = False

ROOT_URLCONF = "registry_site.urls"
WSGI_APPLICATION = "registry_site.wsgi.application"

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
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
_db_url = MOORAGE["database"]["url"] or f"sqlite:///{DATA_DIR / 'moorage.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(_db_url, conn_max_age=MOORAGE["database"]["conn_max_age"])}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on busy_timeout instead of failing with "locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-moorage.sqlite3")}
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Admin messages may carry a freshly generated token once: keep them server-side, not in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

# --- cache ----------------------------------------------------------------------------------
REDIS_URL = MOORAGE["redis"]["url"]
# A Redis that accepts connections but never answers must fail a call fast (the cache then counts
# as down: a miss, or 503), not hold a request thread: cache and broker clients use these.
REDIS_SOCKET_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
if REDIS_URL:
    CACHES = {
        # Django's backend with one client per pool (registry_site/redis_cache.py: a hot-path cost).
        "default": {"BACKEND": "registry_site.redis_cache.ReusingRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": MOORAGE["redis"]["key_prefix"],
                    "OPTIONS": REDIS_SOCKET_OPTIONS}
    }
else:
    # Shared by every process of this host (gunicorn workers, Celery), unlike a per-process cache:
    # login throttling and the Basic-auth cache must see each other's entries.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(DATA_DIR / "cache")}}

# --- storage --------------------------------------------------------------------------------
_locations = MOORAGE["storage"]["locations"] or {
    "default": {"driver": "filesystem", "options": {"location": str(DATA_DIR / "blobs")}}
}
for _name, _location in _locations.items():
    _location.setdefault("options", {})
    _location.setdefault("direct_download", False)
    if _location["driver"] == "filesystem":
        _path = Path(_location["options"].get("location") or DATA_DIR / "blobs" / _name)
        _location["options"]["location"] = str(_path if _path.is_absolute() else (Path.cwd() / _path).resolve())
_unknown = [name for name in MOORAGE["storage"]["direct_download"] if name not in _locations]
if _unknown:
    raise ImproperlyConfigured(f"invalid configuration:\n  storage.direct_download: unknown location(s) {', '.join(_unknown)}")
for _name, _enabled in MOORAGE["storage"]["direct_download"].items():
    _locations[_name]["direct_download"] = _enabled
MOORAGE_STORAGE_LOCATIONS = _locations
MOORAGE_STORAGE_PREFERENCE = MOORAGE["storage"]["preference"] or list(_locations)
_unknown = [name for name in MOORAGE_STORAGE_PREFERENCE if name not in _locations]
if _unknown:
    raise ImproperlyConfigured(f"invalid configuration:\n  storage.preference: unknown location(s) {', '.join(_unknown)}")

# --- registry behaviour ---------------------------------------------------------------------
MOORAGE_LIMITS = MOORAGE["limits"]
MOORAGE_UPLOADS = MOORAGE["uploads"]
MOORAGE_REGISTRY = MOORAGE["registry"]
MOORAGE_AUTH = MOORAGE["auth"]
MOORAGE_SERVER_HOSTNAME = MOORAGE["server_hostname"]
MOORAGE_METRICS_ENABLED = MOORAGE["metrics"]["enabled"]

# --- celery ---------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = MOORAGE["broker"]["url"] or REDIS_URL or "filesystem://localhost//"  # a host: no kombu warning
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # kombu's default is ./control in the cwd
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # The queues live under the same prefix as the cache keys: separate registries sharing one
    # Redis (and the test servers) never consume each other's work.
    # With REDIS_SOCKET_OPTIONS a broker that accepts but never answers fails an enqueue (logged)
    # instead of holding the request that committed.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{MOORAGE['redis']['key_prefix']}:", **REDIS_SOCKET_OPTIONS}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# One queue per kind of work, so a backlog of one (a mirror storm, a scan backlog) never starves
# another; workers consume all of them unless started with -Q.
CELERY_TASK_QUEUES_NAMES = ("default", "gc", "notifications", "mirror", "scan", "replication", "builds")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "registry.gc.*": {"queue": "gc"},
    "registry.notifications.*": {"queue": "notifications"},
    "registry.mirror.*": {"queue": "mirror"},
    "registry.scan.*": {"queue": "scan"},
    "registry.storage.*": {"queue": "replication"},
    "registry.builds.*": {"queue": "builds"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.BearerAuthentication",
        "accounts.api.authentication.SessionPrincipalAuthentication",
    ],
    # Every view names its own permission classes; nothing is open by accident.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    # JSON only, like Quay's API: form data has no types (an empty field would be read as "not
    # given"), so it could only coerce; the browsable API posts JSON through its raw data form.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle", "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": "600/minute", "user": "6000/minute"},
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=1),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=14),
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Moorage API",
    "DESCRIPTION": "Quay-compatible management API of the Moorage container registry.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "common.api_schema.add_error_responses"],
}

# --- static, i18n ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise expects it; collectstatic fills it
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Blob bodies are streamed by our own views; never let Django buffer them.
DATA_UPLOAD_MAX_MEMORY_SIZE = MOORAGE["limits"]["max_manifest_bytes"] + 1024

# --- security headers: nosniff, Referrer-Policy and X-Frame-Options on every response (Django's
# SecurityMiddleware and XFrameOptionsMiddleware), CSP frame-ancestors on HTML (ours), HSTS on
# requests that came over TLS when configured.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS = MOORAGE["server"]["hsts_seconds"]
if MOORAGE["server"]["behind_tls_proxy"]:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        "redact_secrets": {"()": "registry_site.logfilters.RedactSecretsFilter"},
        "no_traceback": {"()": "registry_site.logfilters.NoTracebackFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]},
        "console_brief": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets", "no_traceback"]},
    },
    "root": {"handlers": ["console"], "level": MOORAGE["log_level"]},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"handlers": ["console_brief"], "level": "WARNING", "propagate": False},
    },
}

# --- e-mail (notifications) -----------------------------------------------------------------
# Without an SMTP host nothing is sent: e-mail notifications fail with a clear error in their log.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = MOORAGE["email"]["host"]
EMAIL_PORT = MOORAGE["email"]["port"]
EMAIL_HOST_USER = MOORAGE["email"]["user"]
EMAIL_HOST_PASSWORD = MOORAGE["email"]["password"]
EMAIL_USE_TLS = MOORAGE["email"]["use_tls"]
EMAIL_USE_SSL = MOORAGE["email"]["use_ssl"]
EMAIL_TIMEOUT = MOORAGE["email"]["timeout_s"]
DEFAULT_FROM_EMAIL = MOORAGE["email"]["from_address"]
SERVER_EMAIL = DEFAULT_FROM_EMAIL
