"""System checks of the conversation side (`manage.py check`), with stable ids and a hint each.

They catch settings that would otherwise surface as every turn failing, or as work that can
never be recovered: an engine that cannot start, limits that end every turn at once, a legacy
API that no longer exists at OpenAI.
"""

from datetime import date

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils import timezone

from .business_hours import BusinessHoursError, parse_business_hours
from .pricing import get_model_price, validate_prices

IMMEDIATE_TASKS_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"
# Shutdown dates announced on OpenAI's deprecations page (checked December 2026), so `manage.py
# check` can warn without calling the network; `threads_doctor` asks OpenAI for the live date.
KNOWN_SHUTDOWNS = {
    **dict.fromkeys(
        ["gpt-5", "gpt-5-2025-08-07", "gpt-5-mini", "gpt-5-mini-2025-08-07", "gpt-5-nano", "gpt-5-nano-2025-08-07"],
        date(2026, 12, 11),
    ),
    **dict.fromkeys(["o3", "o3-2025-04-16", "o3-pro", "gpt-5-pro"], date(2026, 12, 11)),
    **dict.fromkeys(
        ["gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "gpt-4o-mini", "gpt-4o-mini-2024-07-18"],
        date(2027, 1, 14),
    ),
    **dict.fromkeys(["gpt-4.1", "gpt-4.1-2025-04-14", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"], date(2027, 1, 14)),
}


def check_assistant_id(app_configs=None, **kwargs) -> list[CheckMessage]:
    if settings.OPENAI_ENGINE != "assistants" or settings.ASSISTANT_ID:
        return []
    return [
        Error(
            "OPENAI_ENGINE=assistants but ASSISTANT_ID is not set: every turn would fail and the fallback "
            "responder would answer instead.",
            hint="Set ASSISTANT_ID=asst_… (the assistant configured as in docs/OPENAI_TOOLS.md), or use "
            "OPENAI_ENGINE=responses.",
            id="threads.E001",
        )
    ]


def check_background_tasks_backend(app_configs=None, **kwargs) -> list[CheckMessage]:
    if not settings.OPENAI_BACKGROUND or _default_tasks_backend() != IMMEDIATE_TASKS_BACKEND:
        return []
    return [
        Warning(
            "OPENAI_BACKGROUND is on with the immediate tasks backend, which cannot defer tasks: a background "
            "turn whose OpenAI webhook is lost is not checked at its deadline and stays open until "
            "`manage.py recover_turns` runs.",
            hint="Set TASKS_BACKEND=database and run `manage.py db_worker`, or set OPENAI_BACKGROUND=false.",
            id="threads.W002",
        )
    ]


def check_assistants_engine(app_configs=None, **kwargs) -> list[CheckMessage]:
    if settings.OPENAI_ENGINE != "assistants":
        return []
    return [
        Warning(
            "OPENAI_ENGINE=assistants uses the Assistants API, which OpenAI shut down on 2026-08-26; it only "
            "works with an Assistants-compatible server (OPENAI_BASE_URL).",
            hint="Set OPENAI_ENGINE=responses and run `manage.py migrate_threads` to move the users' threads "
            "to conversations seeded with their recent transcript.",
            id="threads.W003",
        )
    ]


def check_turn_limits(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.OPENAI_RUN_TIMEOUT_S <= 0:
        errors.append(
            Error(
                f"OPENAI_RUN_TIMEOUT_S must be positive; got {settings.OPENAI_RUN_TIMEOUT_S}: every turn would "
                "time out before it starts.",
                hint="Set OPENAI_RUN_TIMEOUT_S to the seconds a turn may take, e.g. 60.",
                id="threads.E004",
            )
        )
    if settings.OPENAI_MAX_TOOL_ROUNDS < 1:
        errors.append(
            Error(
                f"OPENAI_MAX_TOOL_ROUNDS must be at least 1; got {settings.OPENAI_MAX_TOOL_ROUNDS}: the model "
                "could never read the catalogue.",
                hint="Set OPENAI_MAX_TOOL_ROUNDS to a small number, e.g. 5.",
                id="threads.E004",
            )
        )
    if settings.TURN_LEASE_S <= 0:
        errors.append(
            Error(
                f"TURN_LEASE_S must be positive; got {settings.TURN_LEASE_S}: every working turn's lease would "
                "already have expired, so recovery would take over turns that are still running.",
                hint="Set TURN_LEASE_S to the seconds a dead worker's turn waits before recovery, e.g. 30.",
                id="threads.E004",
            )
        )
    return errors


def check_openai_model(app_configs=None, **kwargs) -> list[CheckMessage]:
    """An empty OPENAI_MODEL fails every turn (the SDK refuses it before any request); only the AI uses it.

    Not with the assistants engine, which uses the model configured on the assistant.
    """
    if not settings.OPENAI_API_KEY or settings.OPENAI_ENGINE == "assistants" or settings.OPENAI_MODEL.strip():
        return []
    return [
        Error(
            "OPENAI_MODEL is empty while OPENAI_API_KEY is set: every turn would fail and the fallback "
            "responder would answer instead.",
            hint="Set OPENAI_MODEL to a current model (the default is gpt-6-luna), or leave it unset.",
            id="threads.E008",
        )
    ]


def check_prices_setting(app_configs=None, **kwargs) -> list[CheckMessage]:
    problems = validate_prices(settings.OPENAI_PRICES)
    if not problems:
        return []
    return [
        Error(
            f"OPENAI_PRICES is not usable: {'; '.join(problems[:5])}.",
            hint='Use USD per 1M tokens, e.g. {"gpt-6-luna": {"input": 0.10, "cached_input": 0.01, "output": 0.50}}, '
            'or {"gpt-transcribe": {"per_minute": 0.0045}} for a transcription model.',
            id="threads.E005",
        )
    ]


def check_model_shutdown(app_configs=None, **kwargs) -> list[CheckMessage]:
    shutdown = KNOWN_SHUTDOWNS.get(settings.OPENAI_MODEL)
    if shutdown is None or settings.OPENAI_ENGINE != "responses":
        return []
    passed = shutdown <= timezone.localdate()
    return [
        (Error if passed else Warning)(
            f"OPENAI_MODEL={settings.OPENAI_MODEL} {'was' if passed else 'is'} shut down by OpenAI on "
            f"{shutdown:%Y-%m-%d}: {'every turn fails' if passed else 'from then on every turn fails'} and the "
            "fallback responder answers.",
            hint="Set OPENAI_MODEL to a current model (the default is gpt-6-luna); compare first with "
            "`manage.py replay --compare MODEL`.",
            id="threads.E006" if passed else "threads.W006",
        )
    ]


def check_cost_limits_priced(app_configs=None, **kwargs) -> list[CheckMessage]:
    limits = settings.USER_DAILY_COST_LIMIT_USD is not None or settings.DAILY_COST_LIMIT_USD is not None
    if not limits or settings.OPENAI_ENGINE != "responses" or get_model_price(settings.OPENAI_MODEL):
        return []
    return [
        Warning(
            f"A dollar limit is set but {settings.OPENAI_MODEL} has no price: its turns cost nothing as far as "
            "the limits know, so USER_DAILY_COST_LIMIT_USD and DAILY_COST_LIMIT_USD never stop it.",
            hint=f'Add it to OPENAI_PRICES, e.g. {{"{settings.OPENAI_MODEL}": {{"input": …, "output": …}}}}.',
            id="threads.W007",
        )
    ]


def check_business_hours(app_configs=None, **kwargs) -> list[CheckMessage]:
    """BUSINESS_HOURS must parse: a user who asks for a person is told when someone answers from it."""
    try:
        parse_business_hours(settings.BUSINESS_HOURS, time_zone=settings.TIME_ZONE)
    except BusinessHoursError as exc:
        return [
            Error(
                f"BUSINESS_HOURS cannot be read: {exc}.",
                hint="Write it like 'mon-fri 09:00-18:00; sat 10:00-14:00' (hours in TIME_ZONE), or 'always'.",
                id="threads.E020",
            )
        ]
    return []


def check_staff_notify_emails(app_configs=None, **kwargs) -> list[CheckMessage]:
    if settings.STAFF_NOTIFY_EMAILS:
        return []
    return [
        Warning(
            "STAFF_NOTIFY_EMAILS is empty: nobody is e-mailed when a user asks for a person (the inbox shows it).",
            hint="Set STAFF_NOTIFY_EMAILS=ventas@example.com,… and the EMAIL_* settings of your mail server.",
            id="threads.W021",
        )
    ]


def _default_tasks_backend() -> str:
    return str(settings.TASKS.get("default", {}).get("BACKEND", ""))
