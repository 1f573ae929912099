"""LiveDeck settings: one module, read from the environment, with a working local default
for every value so that a fresh clone runs with no configuration."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LIVEDECK_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file, logs and demo logins live here


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, dev_default: str) -> str:
    """A secret: required outside DEBUG, a fixed development value inside it."""
    value = os.environ.get(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY", "livedeck-development-only-secret-key-not-for-production-use")
# Vendor credentials are encrypted with this key; rotate it only with a re-encryption.
FIELD_ENCRYPTION_KEY = env_secret("FIELD_ENCRYPTION_KEY", SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# The address vendors reach LiveDeck at, for callback URLs.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "rooms",
    "takeovers",
    "materials",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rooms.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'livedeck.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (daphne, workers, beat) share the file: WAL and immediate
    # transactions keep writers from deadlocking on lock upgrades. A request's connection is
    # closed at its end and kept by the process for the next request (`config.sqlite`).
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")

CHANNEL_LAYERS = {
    # The Pub/Sub layer: the core layer drops messages past its per-channel capacity.
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNEL_PREFIX", "livedeck")},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "livedeck",
    },
    # Rendered HTML that never changes (a finished takeover's row in the log), kept in each
    # process: the console's queue and log are pushed on every change of a takeover, and
    # rendering its 30 log rows again each time was 1.3 ms of a push's 3.5 (development VM).
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fragments",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if DATABASES["default"]["ENGINE"] == "config.sqlite":
    # Celery's Django fixup closes the connection around every task; opening a SQLite one and
    # running its pragmas costs 1-2 ms on every takeover (25 ms at worst under load). A SQLite
    # connection is a file handle that cannot go stale, so a pool process keeps it for 100 tasks.
    # Other databases keep Celery's default (one connection per task).
    CELERY_DB_REUSE_MAX = 100

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "room-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}

# Vendor calls
VENDOR_TIMEOUT = env_float("VENDOR_TIMEOUT", 10.0)
VENDOR_CONNECT_TIMEOUT = env_float("VENDOR_CONNECT_TIMEOUT", 3.0)
SANDBOX_URL = env("SANDBOX_URL", "http://127.0.0.1:8100")

# Heartbeats: every session due one gets it from a single beat entry that runs every
# HEARTBEAT_SCAN_SECONDS; a session is due again INTERVAL minus up to JITTER seconds later.
HEARTBEAT_INTERVAL = env_float("HEARTBEAT_INTERVAL", 60.0)
HEARTBEAT_SCAN_SECONDS = env_float("HEARTBEAT_SCAN_SECONDS", 5.0)
HEARTBEAT_JITTER = env_float("HEARTBEAT_JITTER", 3.0)
HEARTBEAT_CONCURRENCY = env_int("HEARTBEAT_CONCURRENCY", 200)
HEARTBEAT_BATCH = env_int("HEARTBEAT_BATCH", 5000)
HEARTBEAT_RISK_AFTER = env_int("HEARTBEAT_RISK_AFTER", 3)
# A session still CREATING is asked for its status this often until it settles.
STATUS_POLL_SECONDS = env_float("STATUS_POLL_SECONDS", 3.0)
STATUS_POLL_LIMIT = env_int("STATUS_POLL_LIMIT", 100)
# MetaStudio signs callbacks with the time they were sent; one older or newer than this many
# seconds is refused (the document gives a minute; a little more allows for clock skew).
METASTUDIO_CALLBACK_WINDOW = env_float("METASTUDIO_CALLBACK_WINDOW", 90.0)
# Audience events for a platform are gathered this long, then sent in one call.
EVENTS_BATCH_SECONDS = env_float("EVENTS_BATCH_SECONDS", 1.0)
# The platforms' catalogs (voices, anchors, public materials) are fetched again this often.
CATALOG_SYNC_SECONDS = env_int("CATALOG_SYNC_SECONDS", 6 * 3600)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }

# How many played takeovers the console's log shows.
TAKEOVER_LOG_LENGTH = env_int("TAKEOVER_LOG_LENGTH", 30)

# The MQTT broker Guiji sessions speak through (mqtt_bridge).
MQTT_URL = env("MQTT_URL", "mqtt://127.0.0.1:1883")
# The bridge flags a Guiji session whose heartbeats stop arriving after this many seconds
# (the vendor sends one every few seconds), and looks for new sessions to watch this often.
GUIJI_SILENT_SECONDS = env_float("GUIJI_SILENT_SECONDS", 15.0)
MQTT_BRIDGE_SCAN_SECONDS = env_float("MQTT_BRIDGE_SCAN_SECONDS", 0.5)
# A session made this long ago whose StreamPlay the bridge did not hear is asked for its play
# addresses instead (3.16).
GUIJI_STREAM_GRACE_SECONDS = env_float("GUIJI_STREAM_GRACE_SECONDS", 5.0)
# How long a Guiji MQTT request waits for its reply.
GUIJI_REPLY_SECONDS = env_float("GUIJI_REPLY_SECONDS", 15.0)
