"""The single door to OpenAI: one interface over the `responses` and `assistants` engines.

The operations are those of the original `ThreadsAdapter` (create a thread, add a user
message, start a run, wait for it with tool calling and a timeout, fetch the last assistant
message), plus `run_turn`, which does all of that, and the background-mode steps. Callers
never learn which engine runs; thread ids carry it in their prefix (`conv_…`, `thread_…`).
"""

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import httpx2
import openai
from django.conf import settings

from .engines.assistants import AssistantsEngine
from .engines.base import (
    BaseEngine,
    ImageInput,
    ModelConfig,
    RunHandle,
    RunResult,
    SeedMessage,
    UserMessage,
    call_within,
    translate_errors,
)
from .engines.responses import ResponsesEngine
from .exceptions import EngineError, OpenAINotConfigured, RunTimeout, ThreadsError
from .prompts import load_instructions

logger = logging.getLogger(__name__)

ENGINES = ("responses", "assistants")
CONNECT_TIMEOUT_S = 5.0

__all__ = [
    "ImageInput",
    "ModelConfig",
    "RunHandle",
    "RunResult",
    "SeedMessage",
    "ThreadsAdapter",
    "Transcription",
    "UserMessage",
    "count_openai_requests",
    "default_model_config",
    "get_adapter",
    "get_model_shutdown_date",
    "get_openai_client",
    "is_openai_enabled",
    "transcribe_audio",
]


# The adapter's interface is the engines' own: `get_adapter()` returns the configured engine.
ThreadsAdapter = BaseEngine


def is_openai_enabled() -> bool:
    """Tell whether OpenAI is configured; without it the rule-based responder answers."""
    return bool(settings.OPENAI_API_KEY)


def default_model_config() -> ModelConfig:
    """The model configuration of the settings: OPENAI_MODEL, our instructions, effort and output cap."""
    return ModelConfig(
        model=settings.OPENAI_MODEL,
        instructions=load_instructions(),
        reasoning_effort=settings.OPENAI_REASONING_EFFORT,
        max_output_tokens=settings.OPENAI_MAX_OUTPUT_TOKENS,
    )


def get_adapter(
    *,
    engine: str | None = None,
    client: openai.OpenAI | None = None,
    config: ModelConfig | None = None,
    sleep: Callable[[float], None] | None = None,
) -> ThreadsAdapter:
    """Return an adapter for `engine` (default OPENAI_ENGINE) asking with `config` (default: the settings).

    Without an explicit `client` an API key is required. The assistants engine also needs
    ASSISTANT_ID (its model and instructions live on the assistant). `sleep` replaces
    `time.sleep` in polling loops (tests).
    """
    name = engine or settings.OPENAI_ENGINE
    if name not in ENGINES:
        raise ThreadsError(f"unknown OpenAI engine {name!r}; expected one of {', '.join(ENGINES)}")
    if client is None:
        if not is_openai_enabled():
            raise OpenAINotConfigured("OPENAI_API_KEY is not set")
        client = get_openai_client()
    if name == "assistants":
        if not settings.ASSISTANT_ID:
            raise OpenAINotConfigured("the assistants engine needs ASSISTANT_ID")
        return AssistantsEngine(client, assistant_id=settings.ASSISTANT_ID, sleep=sleep)
    return ResponsesEngine(client, config=config or default_model_config(), sleep=sleep)


def get_model_shutdown_date(model: str, *, client: openai.OpenAI | None = None) -> str | None:
    """Return the `shutdown_date` OpenAI announces for `model` (YYYY-MM-DD), or None when none is announced.

    Raises EngineError when the model cannot be retrieved (a 404 means it no longer exists).
    """
    client = client or get_openai_client()
    with translate_errors("models.retrieve", not_found=EngineError):
        info = client.models.retrieve(model)
    shutdown = getattr(info, "shutdown_date", None)
    return str(shutdown) if shutdown else None


@dataclass(frozen=True)
class Transcription:
    """What OpenAI heard in a voice note, and the audio seconds it bills (None when it reported tokens instead)."""

    text: str
    model: str
    billed_seconds: float | None


def transcribe_audio(
    *, data: bytes, filename: str, content_type: str, deadline: float, client: openai.OpenAI | None = None
) -> Transcription:
    """Transcribe a voice note with OPENAI_TRANSCRIBE_MODEL, hinted with TRANSCRIBE_LANGUAGE, by `deadline`.

    `gpt-transcribe` takes its hints as `languages` (a list); the older models as one `language`.
    Errors become EngineError (RunTimeout past the deadline), as for the engines.
    """
    client = client or get_openai_client()
    model = settings.OPENAI_TRANSCRIBE_MODEL
    languages = [code.strip() for code in settings.TRANSCRIBE_LANGUAGE.split(",") if code.strip()]
    hints: dict = {}
    if languages:
        hints = {"languages": languages} if model.startswith("gpt-transcribe") else {"language": languages[0]}
    with translate_errors("audio.transcriptions.create", not_found=EngineError, timeout=RunTimeout):
        result = call_within(
            client,
            lambda c: c.audio.transcriptions.create(
                file=(filename, data, content_type), model=model, response_format="json", **hints
            ),
            deadline=deadline,
            what="audio.transcriptions.create",
            max_retries=client.max_retries,
            sleep=time.sleep,
        )
    usage = getattr(result, "usage", None)
    seconds = getattr(usage, "seconds", None) if getattr(usage, "type", None) == "duration" else None
    return Transcription(
        text=(getattr(result, "text", "") or "").strip(),
        model=model,
        billed_seconds=float(seconds) if isinstance(seconds, int | float) else None,
    )


def get_openai_client() -> openai.OpenAI:
    """Return the process's OpenAI client for the current settings (one per distinct configuration)."""
    if not is_openai_enabled():
        raise OpenAINotConfigured("OPENAI_API_KEY is not set")
    return _build_client(
        settings.OPENAI_API_KEY,
        settings.OPENAI_BASE_URL or None,
        settings.OPENAI_MAX_RETRIES,
        float(settings.OPENAI_RUN_TIMEOUT_S),
    )


class RequestCounter:
    """How many HTTP requests reached OpenAI inside `count_openai_requests()` (SDK retries included)."""

    value: int = 0


_counter: ContextVar[RequestCounter | None] = ContextVar("openai_request_counter", default=None)


@contextlib.contextmanager
def count_openai_requests() -> Iterator[RequestCounter]:
    """Count the requests the process's OpenAI client sends in this block (this thread/context only)."""
    counter = RequestCounter()
    token = _counter.set(counter)
    try:
        yield counter
    finally:
        _counter.reset(token)


def _on_request(request: httpx2.Request) -> None:
    if (counter := _counter.get()) is not None:
        counter.value += 1


@functools.lru_cache(maxsize=8)
def _build_client(api_key: str, base_url: str | None, max_retries: int, read_timeout_s: float) -> openai.OpenAI:
    # A request never needs longer than a whole turn; connecting should be quick.
    timeout = httpx2.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
    http_client = openai.DefaultHttpx2Client(timeout=timeout, event_hooks={"request": [_on_request]})
    return openai.OpenAI(
        api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout, http_client=http_client
    )
