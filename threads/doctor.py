"""The operator's end-to-end check (`manage.py threads_doctor`): is this deployment able to answer?

Each check is a small function returning a `CheckResult`; unlike Django's system checks they
talk to the database, OpenAI and Twilio for real. Results never carry a secret: settings that
hold one are only reported as set or not.
"""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import openai
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from courses.selectors import active_courses
from messaging.backends import (
    STATUS_CALLBACK_PATH,
    ConsoleBackend,
    TwilioBackend,
    get_messaging_backend,
    is_valid_public_base_url,
)
from messaging.checks import BUILTIN_BACKENDS, messaging_backend_problem

from .adapter import ENGINES, get_adapter, get_model_shutdown_date, get_openai_client, is_openai_enabled
from .exceptions import ThreadsError
from .fallback import fallback_reply
from .pricing import get_model_price

logger = logging.getLogger(__name__)

Status = Literal["ok", "warn", "fail"]
OK: Status = "ok"
WARN: Status = "warn"
FAIL: Status = "fail"
ICONS = {OK: "✅", WARN: "⚠️", FAIL: "❌"}
# The doctor must answer quickly even when a service hangs.
REQUEST_TIMEOUT_S = 10.0
DATABASE_TASKS_BACKEND = "django_tasks_db.DatabaseBackend"
DEVELOPMENT_KEY_PREFIX = "django-insecure"
SAMPLE_MESSAGE = "hola"
# A model whose shutdown is this close gets a warning: time to try its replacement with `manage.py replay`.
SHUTDOWN_WARNING = timedelta(days=60)
# DESIGN.md's tables: the thread mapping, the catalogue and the message log.
BRENDA_TABLES = ("oa_threads_map", "ai_courses", "brenda_messages")
SKIPPED_NO_DATABASE = "skipped: no database"
# Words a check's function name spells differently from its title (the title of a crashed or skipped check).
TITLE_WORDS = {"openai": "OpenAI", "twilio": "Twilio", "urls": "URLs"}


@dataclass(frozen=True)
class CheckResult:
    status: Status
    title: str
    detail: str = ""

    @property
    def icon(self) -> str:
        return ICONS[self.status]


def check_configuration() -> CheckResult:
    """Check the settings a production deployment must get right (DEBUG off is the production case)."""
    title = "Configuration"
    problems: list[str] = []
    notes = [f"DEBUG {'on (development only)' if settings.DEBUG else 'off'}"]
    if not settings.DEBUG:
        if _is_weak_secret_key(settings.SECRET_KEY):
            problems.append("SECRET_KEY is the development default or too short: set a long random SECRET_KEY")
        if not settings.ALLOWED_HOSTS:
            problems.append("ALLOWED_HOSTS is empty: set the host names Brenda answers to")
    notes.append("development SECRET_KEY" if _is_weak_secret_key(settings.SECRET_KEY) else "SECRET_KEY set")
    notes.append(f"ALLOWED_HOSTS {', '.join(settings.ALLOWED_HOSTS) or '(none)'}")
    if settings.OPENAI_ENGINE not in ENGINES:
        problems.append(f"OPENAI_ENGINE {settings.OPENAI_ENGINE!r} is not one of {', '.join(ENGINES)}")
    else:
        notes.append(f"engine {settings.OPENAI_ENGINE}")
    if settings.OPENAI_ENGINE == "assistants" and not settings.ASSISTANT_ID:
        problems.append("the assistants engine needs ASSISTANT_ID")
    if problems:
        return CheckResult(FAIL, title, "; ".join(problems))
    if settings.DEBUG:
        # The development setup (`make run`) passes; say what production would refuse, so nobody deploys it.
        return CheckResult(WARN, title, f"{', '.join(notes)}. {_production_blockers()}")
    return CheckResult(OK, title, ", ".join(notes))


def _production_blockers() -> str:
    """Why these settings would fail with DEBUG off (the settings refuse to load, or a check stops the start)."""
    blockers = ["DEBUG is on: production needs DEBUG=false"]
    if _is_weak_secret_key(settings.SECRET_KEY):
        blockers.append("SECRET_KEY is the development default or too short (the settings would refuse to start)")
    if not settings.TWILIO_VALIDATE_SIGNATURE and not settings.ALLOW_UNSIGNED_WEBHOOKS:
        blockers.append("TWILIO_VALIDATE_SIGNATURE=false (check webhooks.E001 would stop the server)")
    return "Development setup; in production this would fail: " + "; ".join(blockers)


def check_database(*, required_tables: Sequence[str] | None = None) -> CheckResult:
    """Check that the database answers, holds Brenda's tables and has every migration applied."""
    title = "Database"
    tables = list(required_tables) if required_tables is not None else _required_tables()
    try:
        _probe_database()
        connection.ensure_connection()
    except DatabaseError as exc:
        return CheckResult(FAIL, title, f"cannot reach the database ({_database_message(exc)}); check DATABASE_URL")
    try:
        present = set(connection.introspection.table_names())
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return CheckResult(FAIL, title, f"cannot read the tables and migrations ({_database_message(exc)})")
    missing = [table for table in tables if table not in present]
    if missing:
        return CheckResult(FAIL, title, f"missing tables {', '.join(missing)}: run `manage.py migrate`")
    if unapplied:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in unapplied[:5])
        return CheckResult(FAIL, title, f"{len(unapplied)} migration(s) not applied ({names}): run `manage.py migrate`")
    return CheckResult(OK, title, f"{connection.vendor}, {len(tables)} tables present, migrations applied")


def _probe_database() -> None:
    """Connect once outside psycopg's pool: an unreachable database then fails at once, with the driver's reason.

    Through the pool it would wait the pool's timeout and only say "couldn't get a connection".
    """
    wrapper = connections[connection.alias]
    options = wrapper.settings_dict.get("OPTIONS") or {}
    if not options.get("pool"):
        return
    probe_options = {key: value for key, value in options.items() if key != "pool"}
    probe_options.setdefault("connect_timeout", int(REQUEST_TIMEOUT_S))
    probe = type(wrapper)({**wrapper.settings_dict, "OPTIONS": probe_options}, alias=f"{connection.alias}-doctor")
    try:
        probe.ensure_connection()
    finally:
        probe.close()


def _database_message(exc: BaseException) -> str:
    """The driver's first line, password removed: DATABASE_URL may hold one, and a driver may echo its DSN."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    password = connection.settings_dict.get("PASSWORD")
    if password:
        text = text.replace(str(password), "***")
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]+@", r"\1***@", text)
    text = re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)
    if len(text) > 200:
        text = text[:199].rstrip() + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_catalogue() -> CheckResult:
    """Warn when no course is active: the assistant would have nothing to sell."""
    title = "Catalogue"
    try:
        count = active_courses().count()
    except DatabaseError as exc:
        return CheckResult(FAIL, title, f"cannot read the catalogue ({type(exc).__name__})")
    if not count:
        return CheckResult(WARN, title, "no active course: load one (`manage.py loaddata demo_courses`) or add some")
    return CheckResult(OK, title, f"{count} active course(s)")


def check_openai() -> CheckResult:
    """Make one cheap authenticated call with the configured engine (the model, or the assistant)."""
    title = "OpenAI"
    if not is_openai_enabled():
        return CheckResult(WARN, title, "OPENAI_API_KEY is not set: the fallback responder will answer")
    if _model_missing():
        return CheckResult(
            FAIL,
            title,
            "OPENAI_MODEL is empty: every turn would fail and the fallback responder answer; set it to a current "
            "model (the default is gpt-6-luna) or leave it unset",
        )
    try:
        client = get_openai_client().with_options(timeout=REQUEST_TIMEOUT_S, max_retries=0)
        described = get_adapter(client=client).check_connection()
    except ThreadsError as exc:
        # Our errors carry the status, type and code only, never the request or the key.
        return CheckResult(FAIL, title, f"{settings.OPENAI_ENGINE} engine: {exc}")
    return CheckResult(OK, title, described)


def check_model_lifecycle() -> CheckResult:
    """Ask OpenAI whether OPENAI_MODEL has an announced shutdown date: ❌ once passed, ⚠️ within 60 days."""
    title = "Model lifecycle"
    model = settings.OPENAI_MODEL
    if not is_openai_enabled():
        return CheckResult(OK, title, f"{model}: not used (OPENAI_API_KEY is not set)")
    if settings.OPENAI_ENGINE == "assistants":
        return CheckResult(OK, title, "the assistants engine uses the model configured on the assistant")
    if _model_missing():
        return CheckResult(WARN, title, "skipped: OPENAI_MODEL is empty")
    try:
        client = get_openai_client().with_options(timeout=REQUEST_TIMEOUT_S, max_retries=0)
        shutdown = get_model_shutdown_date(model, client=client)
    except ThreadsError as exc:
        # Only OpenAI saying the model is unknown is a reason to change it; anything else is not the model's fault.
        cause = exc.__cause__
        if isinstance(cause, openai.APIConnectionError):
            return CheckResult(
                FAIL, title, f"cannot check {model}: OpenAI could not be reached ({exc}); check OPENAI_BASE_URL"
            )
        if _is_unknown_model(cause):
            return CheckResult(FAIL, title, f"cannot retrieve {model}: {exc}; set OPENAI_MODEL to a current model")
        return CheckResult(FAIL, title, f"cannot retrieve {model}: {exc}")
    if shutdown is None:
        return CheckResult(OK, title, f"{model}: no shutdown date announced")
    try:
        day = date.fromisoformat(shutdown)
    except ValueError:
        return CheckResult(WARN, title, f"{model}: OpenAI gives an unreadable shutdown date {shutdown!r}")
    today = timezone.localdate()
    if day <= today:
        return CheckResult(FAIL, title, f"{model} was shut down on {day:%Y-%m-%d}: set OPENAI_MODEL to a current model")
    if day - today <= SHUTDOWN_WARNING:
        return CheckResult(
            WARN,
            title,
            f"{model} shuts down on {day:%Y-%m-%d} ({(day - today).days} days): try a replacement with "
            "`manage.py replay --compare MODEL`, then set OPENAI_MODEL",
        )
    return CheckResult(OK, title, f"{model}: shuts down on {day:%Y-%m-%d}")


def check_prices() -> CheckResult:
    """Tell whether turns of OPENAI_MODEL can be priced (costs and the dollar budgets depend on it)."""
    title = "Prices"
    model = settings.OPENAI_MODEL
    if not model.strip():
        return CheckResult(WARN, title, "skipped: OPENAI_MODEL is empty")
    price = get_model_price(model)
    if price is None or price.input is None:
        budgets = " (USER_DAILY_COST_LIMIT_USD / DAILY_COST_LIMIT_USD cannot hold)" if _cost_limits_set() else ""
        return CheckResult(
            WARN, title, f"no price for {model}: turn costs are unknown{budgets}; add it to OPENAI_PRICES"
        )
    return CheckResult(
        OK,
        title,
        f"{model}: ${price.input} input, ${price.cached_input} cached input, ${price.output} output per 1M tokens",
    )


def check_twilio() -> CheckResult:
    """Build the configured messaging backend as a turn would, then fetch the Twilio account (nothing is sent).

    A backend that cannot be built fails every reply, so the user gets no answer at all: that is a ❌.
    """
    title = "Twilio"
    path = settings.MESSAGING_BACKEND
    problem = messaging_backend_problem(path)
    if problem is not None:
        return CheckResult(
            FAIL,
            title,
            f"MESSAGING_BACKEND {path!r} {problem}: no reply can be sent; set it to one of "
            f"{', '.join(BUILTIN_BACKENDS)}",
        )
    try:
        backend = get_messaging_backend(path)
    except ImproperlyConfigured as exc:
        return CheckResult(FAIL, title, f"cannot build MESSAGING_BACKEND {path}: {exc} No reply can be sent.")
    destination = "the console backend" if isinstance(backend, ConsoleBackend) else path
    sid, token = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    if not (sid and token):
        return CheckResult(WARN, title, f"TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN not set: replies go to {destination}")
    client = Client(sid, token, http_client=TwilioHttpClient(timeout=REQUEST_TIMEOUT_S))
    try:
        account = client.api.v2010.accounts(sid).fetch()
    except requests.RequestException as exc:
        return CheckResult(FAIL, title, f"cannot reach Twilio ({type(exc).__name__})")
    except TwilioException as exc:
        status, code = getattr(exc, "status", None), getattr(exc, "code", None)
        hint = ": check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" if status in (401, 403, 404) else ""
        return CheckResult(FAIL, title, f"Twilio refused the credentials (HTTP {status}, code {code or '-'}){hint}")
    label = f"account …{sid[-4:]} is {account.status or 'unknown'}"
    if account.status not in (None, "active"):
        return CheckResult(WARN, title, f"{label}: messages will not be sent")
    if not isinstance(backend, TwilioBackend):
        return CheckResult(WARN, title, f"{label}, but replies go to {destination} (MESSAGING_BACKEND), not Twilio")
    return CheckResult(OK, title, f"{label}, sending as {backend.from_number}")


def check_webhook_urls() -> CheckResult:
    """List the URLs to configure at Twilio and OpenAI; they are derived from PUBLIC_BASE_URL."""
    title = "Webhook URLs"
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    if not base:
        return CheckResult(
            WARN,
            title,
            "PUBLIC_BASE_URL is not set: set it to the public https URL Twilio calls, or signatures will not "
            "match behind a proxy or tunnel",
        )
    if not is_valid_public_base_url(base):
        return CheckResult(FAIL, title, f"PUBLIC_BASE_URL {base!r} is not an http(s)://host[/path] URL")
    return CheckResult(
        OK,
        title,
        f"Twilio inbound (POST): {base}/webhooks/twilio; Twilio status callback: {base}{STATUS_CALLBACK_PATH}; "
        f"OpenAI webhook (background mode): {base}/webhooks/openai",
    )


def check_fallback_responder() -> CheckResult:
    """Ask the rule-based responder for an answer to a greeting: it must never be empty."""
    title = "Fallback responder"
    reply = fallback_reply(texts=[SAMPLE_MESSAGE])
    if not reply.strip():
        return CheckResult(FAIL, title, f"answered {SAMPLE_MESSAGE!r} with an empty message")
    first_line = reply.strip().splitlines()[0]
    if len(first_line) > 80:
        first_line = first_line[:79].rstrip() + "…"
    return CheckResult(OK, title, f"answers {SAMPLE_MESSAGE!r} with: {first_line}")


DOCTOR_CHECKS: tuple[Callable[[], CheckResult], ...] = (
    check_configuration,
    check_database,
    check_catalogue,
    check_openai,
    check_model_lifecycle,
    check_prices,
    check_twilio,
    check_webhook_urls,
    check_fallback_responder,
)


# They read the database: once check_database fails they are skipped, instead of each waiting for it and crashing.
NEEDS_DATABASE = frozenset({check_catalogue, check_fallback_responder})


def run_doctor(checks: Sequence[Callable[[], CheckResult]] = DOCTOR_CHECKS) -> list[CheckResult]:
    """Run every check; one that crashes is reported as failed and the others still run.

    After a failed database check, the checks that need the database are skipped with one line each.
    """
    results = []
    database_failed = False
    for check in checks:
        if database_failed and check in NEEDS_DATABASE:
            results.append(CheckResult(WARN, check_title(check), SKIPPED_NO_DATABASE))
            continue
        try:
            result = check()
        except Exception as exc:
            logger.exception("doctor check %s crashed", check.__name__)
            result = CheckResult(FAIL, check_title(check), f"the check crashed ({type(exc).__name__})")
        results.append(result)
        database_failed = database_failed or (check is check_database and result.status == FAIL)
    return results


def check_title(check: Callable[[], CheckResult]) -> str:
    """The title of a check that crashed or was skipped, from its name: check_openai is "OpenAI"."""
    words = [TITLE_WORDS.get(word, word) for word in check.__name__.removeprefix("check_").split("_")]
    title = " ".join(words)
    return title[:1].upper() + title[1:]


def _model_missing() -> bool:
    """Whether the responses engine would send an empty model (the SDK refuses it before any request)."""
    return settings.OPENAI_ENGINE != "assistants" and not settings.OPENAI_MODEL.strip()


def _is_unknown_model(cause: BaseException | None) -> bool:
    """Whether OpenAI answered that the model does not exist (or no longer does)."""
    if not isinstance(cause, openai.APIStatusError):
        return False
    return cause.status_code == 404 or cause.code == "model_not_found"


def _cost_limits_set() -> bool:
    return settings.USER_DAILY_COST_LIMIT_USD is not None or settings.DAILY_COST_LIMIT_USD is not None


def _required_tables() -> list[str]:
    tables = list(BRENDA_TABLES)
    if settings.TASKS.get("default", {}).get("BACKEND") == DATABASE_TASKS_BACKEND:
        from django_tasks_db.models import DBTaskResult

        tables.append(DBTaskResult._meta.db_table)
    return tables


def _is_weak_secret_key(value: str) -> bool:
    # Django's own test (security.W009): the generated development prefix, or too short or simple.
    return not value or value.startswith(DEVELOPMENT_KEY_PREFIX) or len(value) < 50 or len(set(value)) < 5
