"""System checks of the conversation side (`manage.py check`), with stable ids and a hint each.

They catch settings that would otherwise surface as every turn failing, or as work that can
never be recovered: an engine that cannot start, limits that end every turn at once, a legacy
API that no longer exists at OpenAI.
"""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

IMMEDIATE_TASKS_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"


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
    return errors


def _default_tasks_backend() -> str:
    return str(settings.TASKS.get("default", {}).get("BACKEND", ""))
