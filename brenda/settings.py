"""Brenda's only settings module: everything comes from the environment (or `.env`).

Every variable read here is listed, with a one-line comment, in `.env.example`.
"""

import json
import logging
import re
import warnings
import zoneinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from .env import StrictEnv

BASE_DIR = Path(__file__).resolve().parent.parent


env = StrictEnv()
# A `.env` file is a convenience for laptops; the real environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------
# https://docs.djangoproject.com/en/6.1/ref/settings/#core-settings
DEBUG = env.bool("DEBUG", default=False)
# Without SECRET_KEY a development key is used, under DEBUG only: with DEBUG off a missing, default or
# weak key (Django's own rule, security.W009) stops the start, since anything signed with it could be forged.
SECRET_KEY = env.str("SECRET_KEY", default="") or "django-insecure-development-only-key-set-SECRET_KEY"
if not DEBUG and (SECRET_KEY.startswith("django-insecure-") or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "SECRET_KEY is missing, the development default or too weak, and DEBUG is off. Set SECRET_KEY to a "
        "random value of at least 50 characters, e.g. the output of "
        '`python -c "import secrets; print(secrets.token_urlsafe(50))"`, or set DEBUG=true for local development.'
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
ENVIRONMENT = env.str("ENVIRONMENT", default="development" if DEBUG else "production")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_tasks_db",
    "courses",
    "messaging",
    "threads",
    "webhooks",
]

MIDDLEWARE = [
    # First: a webhook body is judged (type, size) before anything reads it.
    "webhooks.middleware.WebhookBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "brenda.urls"
WSGI_APPLICATION = "brenda.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# https://docs.djangoproject.com/en/6.1/ref/databases/
# Only the two backends Brenda ships drivers for. The URL is never echoed in an error: it may hold a password.
_DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "psql"}
_DATABASE_URL_ERROR = (
    "DATABASE_URL must be sqlite:///path/to/file.sqlite3 or postgres://user:password@host:5432/name; {} "
    "(the URL is not shown: it may hold a password)."
)
try:
    _database_scheme = urlsplit(_DATABASE_URL).scheme.lower()
except ValueError:
    _database_scheme = ""
if _database_scheme not in _DATABASE_SCHEMES:
    raise ImproperlyConfigured(_DATABASE_URL_ERROR.format("its scheme is not one of these"))
try:
    DATABASES = {"default": env.db_url_config(_DATABASE_URL)}
except ValueError:
    raise ImproperlyConfigured(_DATABASE_URL_ERROR.format("it could not be read (is the port a number?)")) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's pool needs persistent connections off (Django manages the pool).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    _pool_min = env.int("DATABASE_POOL_MIN_SIZE", default=1)
    _pool_max = env.int("DATABASE_POOL_MAX_SIZE", default=10)
    if _pool_min < 0 or _pool_max < 1 or _pool_max < _pool_min:  # psycopg_pool would refuse them at first use
        raise ImproperlyConfigured(
            "DATABASE_POOL_MIN_SIZE must be 0 or more and DATABASE_POOL_MAX_SIZE at least 1 and at least "
            f"DATABASE_POOL_MIN_SIZE; got {_pool_min} and {_pool_max}."
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": _pool_min,
        "max_size": _pool_max,
        "timeout": 10,
    }
    # psycopg prepares a server-side-bound statement after 5 runs; Django's own queries are bound client-side
    # and never prepared, so this only lets the webhook's hot statement (threads.inbound_sql) skip PostgreSQL's
    # parse and plan. Off (Django's default) for a transaction-pooling PgBouncer older than 1.21.
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5 if env.bool("DATABASE_PREPARED_STATEMENTS", True) else None
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
# Where staff work: business hours, the inbox and the stats read times here.
TIME_ZONE = env.str("TIME_ZONE", default="America/Mexico_City")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"TIME_ZONE must be an IANA time zone name such as America/Mexico_City or UTC; got {TIME_ZONE!r}."
    ) from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Only `collectstatic` fills STATIC_ROOT; without it whitenoise serves from the finders (below), so its
# "No directory at" warning for this directory, printed by every worker, would be noise.
warnings.filterwarnings("ignore", message=f"No directory at: {re.escape(str(STATIC_ROOT))}", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin assets straight from the apps, so no collectstatic step is needed to run.
WHITENOISE_USE_FINDERS = True

# --- Security ---------------------------------------------------------------
# https://docs.djangoproject.com/en/6.1/topics/security/
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
# Django's Content-Security-Policy: our own origin only, and inline <style>/<script> only with the
# request's nonce (`{% csp_nonce_attr %}`, which the admin's templates and ours carry).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"

# --- Background tasks -------------------------------------------------------
# https://docs.djangoproject.com/en/6.1/topics/tasks/
TASKS_BACKEND = env.str("TASKS_BACKEND", default="immediate")
_TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
    "dummy": "django.tasks.backends.dummy.DummyBackend",
}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASKS_BACKEND must be one of {', '.join(_TASK_BACKENDS)}; got {TASKS_BACKEND!r}.")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASKS_BACKEND], "QUEUES": []}}
# Seconds between recovery sweeps, which the db_worker processes keep queued (no cron needed).
RECOVERY_SWEEP_S = env.float("RECOVERY_SWEEP_S", default=60.0)
if RECOVERY_SWEEP_S <= 0:
    raise ImproperlyConfigured(f"RECOVERY_SWEEP_S must be positive; got {RECOVERY_SWEEP_S}.")

# --- OpenAI -----------------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
# gpt-6-luna: OpenAI's high-volume tier, not on the deprecations list (gpt-5-mini shuts down 2026-12-11).
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-6-luna")
# Sent as `reasoning.effort` ("" sends nothing: the model's own default, medium). "low" keeps a
# WhatsApp answer within a few seconds while the model still plans its tool calls.
OPENAI_REASONING_EFFORT = env.str("OPENAI_REASONING_EFFORT", default="low")
# Sent as `max_output_tokens` (reasoning included); 0 sends nothing. A reply is at most 1,600 characters.
OPENAI_MAX_OUTPUT_TOKENS = env.int("OPENAI_MAX_OUTPUT_TOKENS", default=2000)
OPENAI_ENGINE = env.str("OPENAI_ENGINE", default="responses")
ASSISTANT_ID = env.str("ASSISTANT_ID", default="")
OPENAI_WEBHOOK_SECRET = env.str("OPENAI_WEBHOOK_SECRET", default="")
OPENAI_BACKGROUND = env.bool("OPENAI_BACKGROUND", default=False)
OPENAI_RUN_TIMEOUT_S = env.float("OPENAI_RUN_TIMEOUT_S", default=60.0)
OPENAI_MAX_TOOL_ROUNDS = env.int("OPENAI_MAX_TOOL_ROUNDS", default=5)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", default=2)
# A working turn renews its user's lease every third of this; a turn whose worker died is taken
# over by recovery once its lease has gone this long without renewal.
TURN_LEASE_S = env.float("TURN_LEASE_S", default=30.0)
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
if OPENAI_REASONING_EFFORT and OPENAI_REASONING_EFFORT not in REASONING_EFFORTS:
    raise ImproperlyConfigured(
        f"OPENAI_REASONING_EFFORT must be empty or one of {', '.join(REASONING_EFFORTS)}; "
        f"got {OPENAI_REASONING_EFFORT!r}."
    )
if OPENAI_MAX_OUTPUT_TOKENS and OPENAI_MAX_OUTPUT_TOKENS < 16:  # OpenAI refuses fewer than 16
    raise ImproperlyConfigured(
        f"OPENAI_MAX_OUTPUT_TOKENS must be 0 (unset) or at least 16; got {OPENAI_MAX_OUTPUT_TOKENS}."
    )
if OPENAI_ENGINE not in ("responses", "assistants"):
    raise ImproperlyConfigured(f"OPENAI_ENGINE must be 'responses' or 'assistants'; got {OPENAI_ENGINE!r}.")

# --- Money: prices and budgets ---------------------------------------------
# USD per 1M tokens (or per minute) on top of threads.pricing's defaults, e.g.
# {"gpt-6-luna": {"input": 0.10, "cached_input": 0.01, "output": 0.50}}; checked by threads.E005.
try:
    OPENAI_PRICES = json.loads(env.str("OPENAI_PRICES", default="") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"OPENAI_PRICES is not valid JSON ({exc.msg} at character {exc.pos}).") from None


def _optional_limit(name: str, raw: str, kind: type) -> Decimal | int | None:
    """Read a limit where empty means no limit; a bad or negative value stops the start."""
    if not raw.strip():
        return None
    try:
        value = kind(raw.strip())
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValueError(raw)
    except (ValueError, InvalidOperation):
        raise ImproperlyConfigured(f"{name} must be a number (or empty for no limit); got {raw!r}.") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name} must not be negative; got {raw!r}.")
    return value


# Rolling 24 hours; empty = no limit. Past one, the rule-based responder answers with no model call.
USER_DAILY_TURN_LIMIT = _optional_limit("USER_DAILY_TURN_LIMIT", env.str("USER_DAILY_TURN_LIMIT", default=""), int)
USER_DAILY_COST_LIMIT_USD = _optional_limit(
    "USER_DAILY_COST_LIMIT_USD", env.str("USER_DAILY_COST_LIMIT_USD", default=""), Decimal
)
DAILY_COST_LIMIT_USD = _optional_limit("DAILY_COST_LIMIT_USD", env.str("DAILY_COST_LIMIT_USD", default=""), Decimal)

# --- Handoff to staff and e-mail (threads.handoff) ---------------------------------------
# https://docs.djangoproject.com/en/6.1/topics/email/
# When staff answer, in TIME_ZONE, e.g. "mon-fri 09:00-18:00; sat 10:00-14:00" ("always" or empty: any time);
# checked by threads.E020. The bot tells a user who asks for a person when someone will answer from it.
BUSINESS_HOURS = env.str("BUSINESS_HOURS", default="mon-fri 09:00-18:00")
# Minutes of business time without a staff reply before the handoff times out (0: never), and what then
# happens: "note" (the user is told once that the team is still on it) or "resume" (the bot answers again).
HANDOFF_TIMEOUT_MIN = env.float("HANDOFF_TIMEOUT_MIN", default=30.0)
HANDOFF_TIMEOUT_ACTION = env.str("HANDOFF_TIMEOUT_ACTION", default="note")
if HANDOFF_TIMEOUT_MIN < 0 or HANDOFF_TIMEOUT_ACTION not in ("note", "resume"):
    raise ImproperlyConfigured(
        "HANDOFF_TIMEOUT_MIN must be 0 or more and HANDOFF_TIMEOUT_ACTION 'note' or 'resume'; "
        f"got {HANDOFF_TIMEOUT_MIN!r} and {HANDOFF_TIMEOUT_ACTION!r}."
    )
# Who is e-mailed when a user asks for a person (comma-separated); empty: nobody (threads.W021).
STAFF_NOTIFY_EMAILS = env.list("STAFF_NOTIFY_EMAILS", default=[])
# E-mail goes through Django's mailers (MAILERS, which replaces the EMAIL_* settings in Django 6.1); the
# environment keeps the familiar names. The console backend prints e-mails; the file backend needs
# EMAIL_FILE_PATH; SMTP reads EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS.
_EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="") or "django.core.mail.backends.console.EmailBackend"
_EMAIL_OPTIONS: dict = {}
if _EMAIL_BACKEND.endswith(".smtp.EmailBackend"):
    _EMAIL_OPTIONS = {
        "host": env.str("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=25),
        "username": env.str("EMAIL_HOST_USER", default=""),
        "password": env.str("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=False),
        # A slow mail server must not hold a worker for long.
        "timeout": env.int("EMAIL_TIMEOUT", default=10),
    }
elif _EMAIL_BACKEND.endswith(".filebased.EmailBackend"):
    _EMAIL_OPTIONS = {"file_path": env.str("EMAIL_FILE_PATH", default="") or str(BASE_DIR / "sent_emails")}
MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND, "OPTIONS": _EMAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="brenda@localhost")
# With nobody to e-mail Brenda sends no mail at all, so a development backend is harmless: `check --deploy`
# then passes. With STAFF_NOTIFY_EMAILS set, mail.E001 stays, as the console backend would lose their mail.
SILENCED_SYSTEM_CHECKS = [] if STAFF_NOTIFY_EMAILS else ["mail.E001"]

# --- Metrics ----------------------------------------------------------------
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Twilio / messaging -----------------------------------------------------
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_PHONE_NUMBER = env.str("TWILIO_PHONE_NUMBER", default="")
TWILIO_VALIDATE_SIGNATURE = env.bool("TWILIO_VALIDATE_SIGNATURE", default=True)
# Secrets of the shared keys Twilio signs with where a Webhook Rule matches our URL (webhooks/signatures.py).
TWILIO_SHARED_KEY_SECRETS = [
    secret.strip() for secret in env.str("TWILIO_SHARED_KEY_SECRETS", default="").split(",") if secret.strip()
]
# With DEBUG off, TWILIO_VALIDATE_SIGNATURE=false is a check error (webhooks.E001) unless this says it is on purpose.
ALLOW_UNSIGNED_WEBHOOKS = env.bool("ALLOW_UNSIGNED_WEBHOOKS", default=False)
TWILIO_TIMEOUT_S = env.float("TWILIO_TIMEOUT_S", default=10.0)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
# Largest webhook body accepted, in bytes (413 beyond, judged before it is read); Twilio and OpenAI send a few kB.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
# Twilio when its credentials are set, the console otherwise (like Django's console e-mail backend).
_DEFAULT_MESSAGING_BACKEND = "TwilioBackend" if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN else "ConsoleBackend"
MESSAGING_BACKEND = env.str("MESSAGING_BACKEND", default="") or f"messaging.backends.{_DEFAULT_MESSAGING_BACKEND}"

# --- Media: voice notes and images (threads.media) ----------------------------
# Hosts the worker may fetch WhatsApp media from (`host` or `host:port`, comma-separated): Twilio's
# API, which answers with a redirect to its media CDN. The account's credentials go to the first host
# of the list only (Twilio's API), never to another host nor along a redirect.
TWILIO_MEDIA_HOSTS = [
    h.strip().lower()
    for h in env.str("TWILIO_MEDIA_HOSTS", default="api.twilio.com,mms.twiliocdn.com").split(",")
    if h.strip()
]
# Largest attachment fetched, in bytes (counted while streaming: the download stops there).
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=16 * 1024 * 1024)
# Connect/read timeout of one media download, in seconds (never beyond the turn's own deadline).
MEDIA_TIMEOUT_S = env.float("MEDIA_TIMEOUT_S", default=15.0)
# Speech-to-text model for voice notes (per-minute price in threads.pricing) and the language hint.
OPENAI_TRANSCRIBE_MODEL = env.str("OPENAI_TRANSCRIBE_MODEL", default="gpt-transcribe")
TRANSCRIBE_LANGUAGE = env.str("TRANSCRIBE_LANGUAGE", default="es")
# Longer voice notes get a polite note instead of a transcription.
VOICE_MAX_SECONDS = env.int("VOICE_MAX_SECONDS", default=300)
# `detail` of images sent to the model: low (cheap, default), high or auto.
OPENAI_IMAGE_DETAIL = env.str("OPENAI_IMAGE_DETAIL", default="low")
# Days a local copy of each fetched attachment is kept (in MEDIA_ROOT); 0 keeps none.
# `manage.py prune_media` deletes the older ones.
MEDIA_RETENTION_DAYS = env.int("MEDIA_RETENTION_DAYS", default=0)
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default="") or BASE_DIR / "media")
if OPENAI_IMAGE_DETAIL not in ("low", "high", "auto"):
    raise ImproperlyConfigured(f"OPENAI_IMAGE_DETAIL must be low, high or auto; got {OPENAI_IMAGE_DETAIL!r}.")

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
}

# --- Logging ----------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
if LOG_LEVEL not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}; got {LOG_LEVEL!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"httpx2": {"level": "WARNING"}, "twilio": {"level": "WARNING"}},
}
