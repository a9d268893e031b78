"""What every engine shares: the payloads that cross the adapter, the adapter's interface, SDK error mapping.

An engine speaks to one OpenAI API (Responses + Conversations, or the legacy Assistants API)
and hides its shape behind the operations of the original `ThreadsAdapter`, which
`BaseEngine` is: `threads.adapter.get_adapter()` picks the engine, and callers see only
these operations (and `run_turn`, which strings them together).
"""

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from django.conf import settings

from ..exceptions import EngineError, RunFailed, RunTimeout, ThreadBusy, ThreadNotFound, ThreadsError
from ..models import engine_for_thread_id
from ..pricing import Usage

logger = logging.getLogger(__name__)


@dataclass
class SeedMessage:
    """One message of a user's recent transcript, replayed into a new thread or conversation."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class ImageInput:
    """An image for the model, inline: Twilio's URLs need credentials, so the bytes travel as a data URL."""

    data_url: str  # data:image/png;base64,...
    detail: str = "low"  # low | high | auto (OPENAI_IMAGE_DETAIL)


# Told to a model that cannot be given the image itself (the legacy Assistants engine).
IMAGE_NOT_SHOWN = "[No puedes ver la imagen que envió: pídele que te cuente qué muestra o qué curso busca.]"


@dataclass(frozen=True)
class UserMessage:
    """A user message with images beside its text: a photo and its caption, or a voice note's transcript."""

    text: str
    images: tuple[ImageInput, ...] = ()

    def text_only(self) -> str:
        """The text for an engine that takes no images, saying that the images were left out."""
        return f"{self.text}\n{IMAGE_NOT_SHOWN}" if self.images else self.text


def plain_text(message: "str | UserMessage") -> str:
    """The text of a turn's input, images left out (with a note)."""
    return message.text_only() if isinstance(message, UserMessage) else message


@dataclass(frozen=True)
class ModelConfig:
    """What a turn asks the model with; the settings give the default, `manage.py replay` others.

    The instructions, then the tools, open every request unchanged: OpenAI caches a prompt's
    prefix only when it is byte-identical, so nothing variable may come before them.
    """

    model: str
    instructions: str
    reasoning_effort: str = ""  # "" sends none: the model's default
    max_output_tokens: int = 0  # 0 sends none


@dataclass
class RunHandle:
    """A turn in progress: which thread, the latest response/run, and what the turn has cost so far."""

    thread_id: str
    run_id: str  # latest response id (responses) or run id (assistants)
    status: str
    text: str | None = None  # final assistant text, once known
    tool_calls: list[dict] = field(default_factory=list)  # {"name", "ok", "ms"} per executed call
    usage: Usage = field(default_factory=Usage)  # summed over the turn's requests
    model: str = ""  # the model that answered, as OpenAI names it (a dated snapshot, often)
    openai_calls: int = 0  # SDK calls made for this turn (each is one HTTP request unless the SDK retried)
    rounds: int = 0  # tool rounds answered so far
    raw: Any = field(default=None, repr=False)  # the latest SDK object (Response or Run)

    def result(self, *, done: bool = True, state: dict | None = None, default_model: str = "") -> "RunResult":
        """What the run produced and cost so far, as the adapter hands it out."""
        return RunResult(
            text=self.text or "",
            response_id=self.run_id,
            tool_calls=self.tool_calls,
            usage=self.usage,
            model=self.model or default_model,
            openai_calls=self.openai_calls,
            done=done,
            state=state if state is not None else {},
        )


@dataclass
class RunResult:
    """What a turn, or one step of a background turn, produced and cost.

    A synchronous turn ends `done` with the final `text`. A background step is `done` with the
    final text, or not done yet with `response_id` still working (a new one after a tool round);
    `state` then goes back in with the next step (it holds the tool round count).
    """

    text: str
    response_id: str  # last response id (responses) or run id (assistants)
    tool_calls: list[dict]  # one per executed call: {"name": str, "ok": bool, "ms": int}
    usage: Usage  # summed over the requests this result covers
    model: str  # as OpenAI reported it (often a dated snapshot)
    openai_calls: int  # requests made to OpenAI (SDK retries not counted)
    done: bool = True
    state: dict = field(default_factory=dict)


class BaseEngine:
    """The adapter's interface: an engine implements every method below (the docstrings are the spec)."""

    name: str = ""
    # Whether the engine can run a turn in OpenAI's background mode (completed through the webhook).
    supports_background: bool = False

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        config: ModelConfig | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = client
        # None for an engine whose model and instructions live remotely (a legacy assistant).
        self.config = config
        # Injectable so tests of polling loops do not wait for real.
        self.sleep: Callable[[float], None] = sleep or time.sleep

    def request(
        self,
        what: str,
        fn: Callable[[openai.OpenAI], Any],
        *,
        deadline: float | None = None,
        not_found: type[EngineError] = ThreadNotFound,
    ) -> Any:
        """Make one OpenAI request through `fn(client)`, its errors translated to ours.

        With a `deadline` (a `time.monotonic()` value) the request and as many retries as the
        client allows end by then (RunTimeout otherwise); without one, the SDK's own timeout and
        retries apply.
        """
        with translate_errors(what, not_found=not_found, timeout=RunTimeout if deadline is not None else EngineError):
            if deadline is None:
                return fn(self.client)
            return call_within(
                self.client, fn, deadline=deadline, what=what, max_retries=self.client.max_retries, sleep=self.sleep
            )

    @property
    def model(self) -> str:
        """The model asked for ("" when a remote assistant chooses it)."""
        return self.config.model if self.config else ""

    def run_turn(
        self, thread_id: str, texts: Sequence["str | UserMessage"], *, timeout_s: float | None = None
    ) -> RunResult:
        """Send `texts` (in order; a `UserMessage` carries images too) as one turn and return the model's answer.

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
            handle.text = self.get_last_assistant_message(handle, deadline=deadline)
            if not handle.text.strip():
                raise RunFailed(f"run {handle.run_id} produced an empty answer")
        logger.info(
            "turn on %s (%s) done: %s, %d tool calls, %d requests, %d ms",
            thread_id,
            self.name,
            handle.run_id,
            len(handle.tool_calls),
            handle.openai_calls,
            round((time.monotonic() - started) * 1000),
        )
        return handle.result(default_model=self.model)

    def check_thread_id(self, thread_id: str) -> None:
        """Refuse another engine's id: it cannot be used here, so the thread counts as lost (and is recreated)."""
        made_by = engine_for_thread_id(thread_id)
        if made_by not in (self.name, "unknown"):
            raise ThreadNotFound(f"{thread_id} was made by the {made_by} engine, not {self.name}")

    def create_thread(self, *, seed: Sequence[SeedMessage] = (), deadline: float | None = None) -> str:
        """Create a remote thread/conversation holding `seed` (oldest first) and return its id."""
        raise NotImplementedError

    def delete_thread(self, thread_id: str) -> None:
        """Delete a remote thread/conversation; one that no longer exists is not an error."""
        raise NotImplementedError

    def add_user_message(self, thread_id: str, text: "str | UserMessage", *, deadline: float | None = None) -> None:
        """Add a user message (with its images, where the engine takes them) to the next run of `thread_id`."""
        raise NotImplementedError

    def start_run(self, thread_id: str, *, deadline: float | None = None) -> RunHandle:
        """Make the model start working on the thread's new messages."""
        raise NotImplementedError

    def wait_for_run(self, handle: RunHandle, *, deadline: float) -> RunHandle:
        """Drive the run to its final message, executing tool calls; `deadline` is a `time.monotonic()` value."""
        raise NotImplementedError

    def get_last_assistant_message(self, handle: RunHandle, *, deadline: float | None = None) -> str:
        """Return the text of the run's final assistant message."""
        raise NotImplementedError

    def check_connection(self) -> str:
        """Make one cheap authenticated call and describe what answered."""
        raise NotImplementedError

    def start_background(self, thread_id: str, texts: Sequence["str | UserMessage"]) -> str:
        """Start a background response for `texts` and return its id."""
        raise ThreadsError(f"the {self.name} engine does not support background mode")

    def resume_background(self, response_id: str, *, state: dict) -> RunResult:
        """Advance a background turn whose response ended; `state` comes from the previous step ({} at first).

        Function calls are executed and the next background response started (done=False, new
        id); a message ends the turn (done=True); failed/cancelled/incomplete raises RunFailed;
        a response still working gives done=False with the same id.
        """
        raise ThreadsError(f"the {self.name} engine does not support background mode")

    def cancel_background(self, response_id: str) -> None:
        """Cancel a background response, best effort."""
        raise ThreadsError(f"the {self.name} engine does not support background mode")


# Our own retries inside a turn's deadline (the SDK's are turned off there): the SDK gives every
# attempt the full timeout again and waits out Retry-After up to two minutes, so a turn left to
# it could outlive its deadline several times over (and its user's lease with it).
RETRY_BASE_S = 0.5
RETRY_MAX_S = 8.0


def call_within(
    client: openai.OpenAI,
    fn: Callable[[openai.OpenAI], Any],
    *,
    deadline: float,
    what: str,
    max_retries: int,
    sleep: Callable[[float], None],
) -> Any:
    """Make one OpenAI request that ends by `deadline`, retrying transient failures while time is left.

    Each attempt gets the time left as its timeout; a failure that cannot be retried in the
    time left is raised as the SDK raised it (the caller translates it).
    """
    attempt = 0
    while True:
        bounded = client.with_options(timeout=remaining_s(deadline, what=what), max_retries=0)
        try:
            return fn(bounded)
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            wait = retry_wait(exc, attempt)
            if wait is None or attempt >= max_retries or time.monotonic() + wait >= deadline:
                raise
            logger.info("OpenAI %s failed (%s); retrying in %.1fs", what, type(exc).__name__, wait)
            sleep(wait)
            attempt += 1


def retry_wait(exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before retrying `exc`, or None when it is not worth retrying."""
    if isinstance(exc, openai.APITimeoutError):
        return None  # it had all the time left
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code not in (408, 409, 429) and exc.status_code < 500:
            return None
        headers = exc.response.headers
        try:
            if "retry-after-ms" in headers:
                return min(float(headers["retry-after-ms"]) / 1000, RETRY_MAX_S * 4)
            if "retry-after" in headers:
                return min(float(headers["retry-after"]), RETRY_MAX_S * 4)
        except ValueError:
            pass
    return min(RETRY_BASE_S * 2**attempt, RETRY_MAX_S)


def remaining_s(deadline: float, *, what: str) -> float:
    """Return the seconds left before `deadline`, or raise RunTimeout when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RunTimeout(f"OpenAI turn ran out of time before {what}")
    return left


@contextlib.contextmanager
def carrying_usage(handle: RunHandle, *, default_model: str = "") -> Iterator[None]:
    """Attach what the run used so far to a ThreadsError raised in the block (OpenAI bills failed runs too)."""
    try:
        yield
    except ThreadsError as exc:
        exc.usage, exc.model = handle.usage, handle.model or default_model
        raise


def is_busy_error(exc: openai.APIStatusError) -> bool:
    """Tell a "one thing at a time" refusal: a locked conversation, or a thread with an active run."""
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("message") or "")
    return exc.status_code == 400 and (
        exc.code == "conversation_locked"
        or ("while a run" in message and "is active" in message)
        or "already has an active run" in message
    )


def describe_status_error(exc: openai.APIStatusError) -> str:
    """Summarise an API error as status, type and code only: OpenAI's messages can echo part of the key."""
    return f"HTTP {exc.status_code} ({exc.type or 'unknown'}/{exc.code or '-'})"


@contextlib.contextmanager
def translate_errors(
    what: str, *, not_found: type[EngineError] = ThreadNotFound, timeout: type[EngineError] = EngineError
) -> Iterator[None]:
    """Re-raise the SDK's errors (after its own retries) as ours, always chained.

    `not_found` is the error for a 404 (the thread/conversation is gone, unless the call was
    about something else); `timeout` is the error for a request timeout (RunTimeout when the
    request was given the turn's remaining time).
    """
    try:
        yield
    except openai.APIStatusError as exc:
        summary = describe_status_error(exc)
        if exc.status_code == 404:
            raise not_found(f"OpenAI {what}: not found, {summary}") from exc
        if is_busy_error(exc):
            raise ThreadBusy(f"OpenAI {what}: busy, {summary}") from exc
        raise EngineError(f"OpenAI {what} failed: {summary}") from exc
    except openai.APITimeoutError as exc:
        raise timeout(f"OpenAI {what} timed out") from exc
    except openai.APIConnectionError as exc:
        raise EngineError(f"OpenAI {what} failed: connection error ({type(exc.__cause__).__name__})") from exc
    except openai.OpenAIError as exc:
        raise EngineError(f"OpenAI {what} failed: {type(exc).__name__}") from exc
