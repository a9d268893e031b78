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
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import httpx2
import openai
from django.conf import settings

from .engines.assistants import AssistantsEngine
from .engines.base import (
    BackgroundStep,
    BaseEngine,
    ModelConfig,
    RunHandle,
    SeedMessage,
    carrying_usage,
    translate_errors,
)
from .engines.responses import ResponsesEngine
from .exceptions import EngineError, OpenAINotConfigured, RunFailed, ThreadsError
from .pricing import Usage
from .prompts import load_instructions

logger = logging.getLogger(__name__)

ENGINES = ("responses", "assistants")
CONNECT_TIMEOUT_S = 5.0

__all__ = [
    "BackgroundStep",
    "ModelConfig",
    "RunHandle",
    "RunResult",
    "SeedMessage",
    "ThreadsAdapter",
    "count_openai_requests",
    "default_model_config",
    "get_adapter",
    "get_model_shutdown_date",
    "get_openai_client",
    "is_openai_enabled",
]


@dataclass
class RunResult:
    """What one turn produced and cost."""

    text: str  # final assistant text
    response_id: str  # last response id (responses) or run id (assistants)
    tool_calls: list[dict]  # one per executed call: {"name": str, "ok": bool, "ms": int}
    usage: Usage  # summed over every request of the turn
    model: str  # as OpenAI reported it (often a dated snapshot)
    openai_calls: int  # requests made to OpenAI during the turn (SDK retries not counted)


class ThreadsAdapter:
    """Talk to the user's thread through whichever engine is configured."""

    def __init__(self, backend: BaseEngine) -> None:
        self.backend = backend
        self.engine: str = backend.name

    @property
    def model(self) -> str:
        """The model asked for ("" when a remote assistant chooses it)."""
        return self.backend.config.model if self.backend.config else ""

    @property
    def supports_background(self) -> bool:
        return self.backend.supports_background

    def create_thread(self, *, seed: Sequence[SeedMessage] = (), deadline: float | None = None) -> str:
        """Create a thread/conversation holding `seed`, the user's recent transcript (oldest first).

        With a `deadline` (a `time.monotonic()` value) it is done by then or raises RunTimeout.
        """
        return self.backend.create_thread(seed=seed, deadline=deadline)

    def delete_thread(self, thread_id: str) -> None:
        """Delete the remote thread/conversation; one already gone is fine."""
        self.backend.delete_thread(thread_id)

    def add_user_message(self, thread_id: str, text: str, *, deadline: float | None = None) -> None:
        """Queue a user message for the next run (the responses engine buffers it locally: no request)."""
        self.backend.add_user_message(thread_id, text, deadline=deadline)

    def start_run(self, thread_id: str, *, deadline: float | None = None) -> RunHandle:
        """Start the model on the messages added since the last run."""
        return self.backend.start_run(thread_id, deadline=deadline)

    def wait_for_run(self, handle: RunHandle, *, deadline: float) -> RunHandle:
        """Drive the run to its answer, executing tool calls; `deadline` is a `time.monotonic()` value."""
        return self.backend.wait_for_run(handle, deadline=deadline)

    def get_last_assistant_message(self, handle: RunHandle, *, deadline: float | None = None) -> str:
        return self.backend.get_last_assistant_message(handle, deadline=deadline)

    def run_turn(self, thread_id: str, texts: Sequence[str], *, timeout_s: float | None = None) -> RunResult:
        """Send `texts` (in order) as one turn and return the model's answer.

        The whole turn, tool rounds included, must end within `timeout_s` (default
        OPENAI_RUN_TIMEOUT_S) or RunTimeout is raised. An empty answer raises RunFailed, so
        the caller never sends the user an empty message.
        """
        if not texts:
            raise ThreadsError("run_turn needs at least one user message")
        started = time.monotonic()
        deadline = started + (settings.OPENAI_RUN_TIMEOUT_S if timeout_s is None else timeout_s)
        for text in texts:
            self.add_user_message(thread_id, text, deadline=deadline)
        handle = self.start_run(thread_id, deadline=deadline)
        with carrying_usage(handle, default_model=self.model):
            handle = self.wait_for_run(handle, deadline=deadline)
            text = self.get_last_assistant_message(handle, deadline=deadline)
            if not text.strip():
                raise RunFailed(f"run {handle.run_id} produced an empty answer")
        logger.info(
            "turn on %s (%s) done: %s, %d tool calls, %d requests, %d ms",
            thread_id,
            self.engine,
            handle.run_id,
            len(handle.tool_calls),
            handle.openai_calls,
            round((time.monotonic() - started) * 1000),
        )
        return RunResult(
            text=text,
            response_id=handle.run_id,
            tool_calls=handle.tool_calls,
            usage=handle.usage,
            model=handle.model or self.model,
            openai_calls=handle.openai_calls,
        )

    def start_background(self, thread_id: str, texts: Sequence[str]) -> str:
        """Start a background response for `texts` and return its id (responses engine only).

        The turn continues in `resume_background` when OpenAI's webhook says the response ended.
        """
        return self.backend.start_background(thread_id, texts)

    def resume_background(self, response_id: str, *, state: dict) -> BackgroundStep:
        """Advance a background turn whose response ended; `state` comes from the previous step ({} at first).

        Function calls are executed and the next background response started (done=False, new
        id); a message ends the turn (done=True); failed/cancelled/incomplete raises RunFailed;
        a response still working gives done=False with the same id.
        """
        return self.backend.resume_background(response_id, state=state)

    def cancel_background(self, response_id: str) -> None:
        """Cancel a background response, best effort (it frees the conversation for the next turn)."""
        self.backend.cancel_background(response_id)

    def check_connection(self) -> str:
        """Make one cheap authenticated call and describe what answered; raise EngineError on failure."""
        return self.backend.check_connection()


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
        return ThreadsAdapter(AssistantsEngine(client, assistant_id=settings.ASSISTANT_ID, sleep=sleep))
    return ThreadsAdapter(ResponsesEngine(client, config=config or default_model_config(), sleep=sleep))


def get_model_shutdown_date(model: str, *, client: openai.OpenAI | None = None) -> str | None:
    """Return the `shutdown_date` OpenAI announces for `model` (YYYY-MM-DD), or None when none is announced.

    Raises EngineError when the model cannot be retrieved (a 404 means it no longer exists).
    """
    client = client or get_openai_client()
    with translate_errors("models.retrieve", not_found=EngineError):
        info = client.models.retrieve(model)
    shutdown = getattr(info, "shutdown_date", None)
    return str(shutdown) if shutdown else None


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
