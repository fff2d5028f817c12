"""Settings, all read from the environment (see .env.example). Behaviour differs only by variables."""

from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("ROULETTE_VAR_DIR", default=str(BASE_DIR / "var")))


class _Env(environ.Env):
    """`NAME=` (empty, as .env.example ships most variables) means "not set" for typed values: the default
    applies instead of a crash (int(""), a database URL of "") or a silent False for a boolean."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        if cast not in (str, list) and default is not environ.Env.NOTSET and self.ENVIRON.get(var) == "":
            return default
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


env = _Env()


def env_switch(name: str, *, default: bool) -> bool:
    """A security switch: only an explicit true/false word counts. A typo ("flase") stops start-up instead of
    quietly switching a protection off (environ's bool reads any unknown word as False)."""
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


DEBUG = env.bool("DJANGO_DEBUG", default=False)


def env_secret(name: str) -> str:
    """A token or key: surrounding whitespace (a stray space or newline in .env) is not part of it, and an
    empty or whitespace-only value means "not set", never a key that anyone can sign with."""
    return env.str(name, default="").strip()


SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=true for local development "
            "(`make run` writes both to a local .env, which manage.py reads)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG-true"  # noqa: S105

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
PUBLIC_BASE_URL = (env.str("PUBLIC_BASE_URL", default="") or "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our own static files, pinned, no CDN
    "django_celery_beat",
    "teams",
    "telephony",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "roulette.urls"
WSGI_APPLICATION = "roulette.wsgi.application"

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

# --- Database: SQLite by default, PostgreSQL (or anything else) through DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'roulette.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write at the same time: WAL lets readers run beside a writer, the busy
    # timeout waits for the lock instead of failing, and IMMEDIATE transactions take the write lock up
    # front so two writers never deadlock upgrading a read lock ("database is locked").
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend with a health check that costs no round trip (roulette/db/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "roulette.db.postgresql"
        # A server that takes the connection and never answers (overloaded, half down, a stuck proxy) must
        # not hold a web worker past Twilio's 15 s: the webhook answers with its apology within seconds, and
        # the Voice Fallback URL, which needs no database, finds a free worker. Likewise for data sent and
        # never acknowledged (the server vanished). `?connect_timeout=…` in DATABASE_URL wins.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", 3)  # seconds; libpq's smallest is 2
        options.setdefault("tcp_user_timeout", 5000)  # milliseconds

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Redis: Celery broker and cache. Unset: an embedded filesystem broker and a local-memory cache.
REDIS_URL = env.str("REDIS_URL", default="").strip()
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # The cache only holds API rate counters: a Redis that is down or slow must cost a request a fraction
    # of a second, not hang it (the throttle then counts in the process instead, teams.authentication).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.1, "socket_timeout": 0.5},
        }
    }
else:
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A publish must not hang a request or a beat tick when the broker is down: fail fast, the outbox
# sweep sends later. Requests publish through telephony.queue.task_publish (one 0.1 s attempt); this
# timeout is for the worker's and beat's own connections.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False

# --- Twilio
TWILIO_ACCOUNT_SID = env_secret("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_secret("TWILIO_AUTH_TOKEN")
TWILIO_AUTH_TOKEN_SECONDARY = env_secret("TWILIO_AUTH_TOKEN_SECONDARY")
TWILIO_SMS_FROM = env.str("TWILIO_SMS_FROM", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="").rstrip("/")
# Only an explicit TWILIO_VALIDATE_SIGNATURES=false switches the webhook signature check off (DEBUG never
# does); start-up then logs a warning (telephony.apps).
TWILIO_VALIDATE_SIGNATURES = env_switch("TWILIO_VALIDATE_SIGNATURES", default=True)
TWILIO_HTTP_TIMEOUT_SECONDS = env.float("TWILIO_HTTP_TIMEOUT_SECONDS", default=10.0)
# Dialled by the Voice Fallback URL when the database is down (optional, E.164).
EMERGENCY_PHONE = env.str("EMERGENCY_PHONE", default="")
# `SMS_BACKEND=` (empty, as in .env.example) picks the default like an unset variable.
SMS_BACKEND = env.str("SMS_BACKEND", default="") or (
    "twilio" if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN else "console"
)
# Read each call leg's and message's price from Twilio's REST API once Twilio has rated it (usage/, budgets).
# Default: on where SMS go through Twilio (an account to ask); off, the estimates from the rates stay.
TWILIO_PRICE_LOOKUPS = env_switch("TWILIO_PRICE_LOOKUPS", default=SMS_BACKEND == "twilio")


# What the line costs until Twilio reports its own price (USD; the seed's figures: receiving a call about
# 1 cent a minute, forwarding it to a Brazilian mobile about 33 cents a minute, an SMS segment 1.2 cents).
def env_money(name: str, *, default: str) -> Decimal:
    """A rate in USD, as a Decimal (money is never a float); a malformed or negative one stops start-up."""
    raw = env.str(name, default="").strip() or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be an amount in USD such as {default}, not {raw!r}.")
    return value


TWILIO_RATE_INBOUND_PER_MIN = env_money("TWILIO_RATE_INBOUND_PER_MIN", default="0.0100")
TWILIO_RATE_OUTBOUND_PER_MIN = env_money("TWILIO_RATE_OUTBOUND_PER_MIN", default="0.3300")
TWILIO_RATE_SMS = env_money("TWILIO_RATE_SMS", default="0.0120")

# --- Operations
# GET /metrics asks for `Authorization: Bearer <METRICS_TOKEN>` when set (open when unset, for a private
# network). PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself) shares the webhook latency histogram
# between gunicorn workers; see README "Metrics".
METRICS_TOKEN = env_secret("METRICS_TOKEN")

# --- Rota
SHIFT_HORIZON_WEEKS = env.int("SHIFT_HORIZON_WEEKS", default=12)
# Who tells people that a rotation change moved their time on call (the rota itself sends nothing).
ROTA_CHANGE_NOTIFIER = "telephony.notifications.rota_changes_notify"
ALERT_PAGES_PER_HOUR = env.int("ALERT_PAGES_PER_HOUR", default=20)

# --- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "teams.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "teams.api_pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "teams.api_errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "teams.api_errors.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["teams.authentication.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env.str("API_RATE_LIMIT", default="1000/hour")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Support Roulette API",
    "DESCRIPTION": "Who is on call, the rota, and the call, voicemail, message and alert logs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI's default validator badge asks validator.swagger.io about the schema: keep it in-house.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "teams.api_errors.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RotaRoleEnum": "teams.models.Role",
        "MembershipRoleEnum": "teams.models.TeamMembership.Role",
        "AlertStateEnum": "telephony.models.Alert.State",
        "SwapStateEnum": "telephony.models.Swap.State",
    },
}

# --- Security (production values follow from DEBUG=false; `manage.py check --deploy` passes)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
# TLS is usually terminated by the proxy; set DJANGO_SECURE_SSL_REDIRECT=true where Django must redirect.
# Twilio webhooks and /healthz are never redirected (a redirected POST loses its body).
SECURE_SSL_REDIRECT = env_switch("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$", r"^telephony/"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="") or "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # twilio-python logs every REST request and response (URLs with phone numbers, headers) at INFO.
        "twilio.http_client": {"level": "WARNING"},
    },
}
