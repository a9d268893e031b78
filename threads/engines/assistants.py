"""The legacy engine: an Assistants API thread per user, a run per turn, polled until it ends.

Kept for Assistants-compatible servers and for reading old `thread_…` mappings. The assistant
(model, instructions and tools) is configured on the server under ASSISTANT_ID; docs/OPENAI_TOOLS.md
lists the tool schemas to give it. The SDK marks these endpoints deprecated and warns on every
call, so each call silences that warning locally.
"""

import contextlib
import logging
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import openai
from django.conf import settings
from openai.types.beta.threads import Run

from ..exceptions import EngineError, RunFailed, RunTimeout, ThreadNotFound, ToolRoundsExceeded
from ..pricing import Usage
from ..tools import execute_tool_call
from .base import BaseEngine, RunHandle, SeedMessage, UserMessage, plain_text, remaining_s, translate_errors

logger = logging.getLogger(__name__)

FAILED = frozenset({"failed", "cancelled", "expired", "incomplete"})
POLL_INITIAL_S = 0.25
POLL_MAX_S = 2.0
CLEANUP_TIMEOUT_S = 5.0


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the SDK's DeprecationWarning for the Assistants API: using it is this engine's purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class AssistantsEngine(BaseEngine):
    name = "assistants"
    supports_background = False

    def __init__(self, client: openai.OpenAI, *, assistant_id: str, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.assistant_id = assistant_id
        # Requests made by add_user_message, charged to the turn that start_run opens next.
        self._calls_before_run: Counter[str] = Counter()

    def create_thread(self, *, seed: Sequence[SeedMessage] = (), deadline: float | None = None) -> str:
        messages: list[Any] = [{"role": m.role, "content": m.text} for m in seed if m.text.strip()]
        with _quiet():
            thread = self.request(
                "threads.create",
                lambda c: c.beta.threads.create(messages=messages or openai.omit),
                deadline=deadline,
                not_found=EngineError,
            )
        logger.info("created thread %s seeded with %d messages", thread.id, len(messages))
        return thread.id

    def delete_thread(self, thread_id: str) -> None:
        with contextlib.suppress(ThreadNotFound), _quiet(), translate_errors("threads.delete"):
            self.client.beta.threads.delete(thread_id)
        logger.info("deleted thread %s", thread_id)

    def add_user_message(self, thread_id: str, text: str | UserMessage, *, deadline: float | None = None) -> None:
        """Add the message to the thread now (the Assistants API has no way to send it with the run).

        Images are left out, with a note for the model: this API takes an image only as an uploaded
        file or a public URL, and Twilio's media URLs need our credentials.
        """
        self.check_thread_id(thread_id)
        content = plain_text(text)
        self._calls_before_run[thread_id] += 1
        with _quiet():
            self.request(
                "threads.messages.create",
                lambda c: c.beta.threads.messages.create(thread_id, role="user", content=content),
                deadline=deadline,
            )

    def start_run(self, thread_id: str, *, deadline: float | None = None) -> RunHandle:
        self.check_thread_id(thread_id)
        calls = self._calls_before_run.pop(thread_id, 0) + 1
        with _quiet():
            run = self.request(
                "threads.runs.create",
                lambda c: c.beta.threads.runs.create(thread_id, assistant_id=self.assistant_id),
                deadline=deadline,
            )
        logger.debug("run %s started in %s", run.id, thread_id)
        return RunHandle(thread_id=thread_id, run_id=run.id, status=run.status, openai_calls=calls, raw=run)

    def wait_for_run(self, handle: RunHandle, *, deadline: float) -> RunHandle:
        """Poll the run with back-off (0.25 s doubling to 2 s), answering `requires_action` with tool outputs.

        A run that outlives the deadline or calls tools beyond OPENAI_MAX_TOOL_ROUNDS is cancelled
        (best effort), so the thread accepts the user's next message.
        """
        try:
            return self._drive(handle, deadline)
        except (RunTimeout, ToolRoundsExceeded):
            self._cancel(handle)
            raise

    def get_last_assistant_message(self, handle: RunHandle, *, deadline: float | None = None) -> str:
        """Fetch the run's newest assistant message (one request)."""
        if handle.text is not None:
            return handle.text
        handle.openai_calls += 1
        with _quiet():
            page = self.request(
                "threads.messages.list",
                lambda c: c.beta.threads.messages.list(handle.thread_id, order="desc", limit=10, run_id=handle.run_id),
                deadline=deadline,
            )
        for message in page.data:
            if message.role == "assistant":
                text = "".join(part.text.value for part in message.content if part.type == "text")
                if text.strip():
                    handle.text = text
                    return text
        raise RunFailed(f"run {handle.run_id} completed without an assistant message")

    def check_connection(self) -> str:
        with _quiet(), translate_errors("assistants.retrieve", not_found=EngineError):
            assistant = self.client.beta.assistants.retrieve(self.assistant_id)
        return f"assistants engine: assistant {assistant.id} ({assistant.name or assistant.model})"

    def _drive(self, handle: RunHandle, deadline: float) -> RunHandle:
        run: Run = handle.raw
        delay = POLL_INITIAL_S
        while True:
            if run.status == "completed":
                if run.usage is not None:  # a run's usage is its running total, not a step's
                    handle.usage = Usage.from_api(run.usage)
                    handle.model = run.model or handle.model
                return handle
            if run.status in FAILED:
                error = run.last_error.code if run.last_error else None
                reason = error or (run.incomplete_details.reason if run.incomplete_details else None)
                raise RunFailed(f"run {run.id} ended {run.status} ({reason or 'no reason given'})")
            if run.status == "requires_action" and run.required_action is not None:
                run = self._submit_tool_outputs(handle, run, deadline)
                delay = POLL_INITIAL_S
            else:  # queued, in_progress, cancelling
                left = remaining_s(deadline, what=f"run {run.id} finished")
                self.sleep(min(delay, left))
                delay = min(delay * 2, POLL_MAX_S)
                run = self._retrieve(handle, deadline)
            handle.raw = run
            handle.status = run.status

    def _submit_tool_outputs(self, handle: RunHandle, run: Run, deadline: float) -> Run:
        if handle.rounds >= settings.OPENAI_MAX_TOOL_ROUNDS:
            raise ToolRoundsExceeded(
                f"run {run.id} still calls tools after {handle.rounds} rounds "
                f"(OPENAI_MAX_TOOL_ROUNDS={settings.OPENAI_MAX_TOOL_ROUNDS})"
            )
        if run.required_action is None:
            raise RunFailed(f"run {run.id} requires an action but names none")
        outputs: list[Any] = []
        for call in run.required_action.submit_tool_outputs.tool_calls:
            outcome = execute_tool_call(call.function.name, call.function.arguments)
            outputs.append({"tool_call_id": call.id, "output": outcome.output})
            handle.tool_calls.append({"name": call.function.name[:64], "ok": outcome.ok, "ms": outcome.ms})
        handle.rounds += 1
        handle.openai_calls += 1
        with _quiet():
            return self.request(
                "threads.runs.submit_tool_outputs",
                lambda c: c.beta.threads.runs.submit_tool_outputs(
                    run.id, thread_id=handle.thread_id, tool_outputs=outputs
                ),
                deadline=deadline,
            )

    def _retrieve(self, handle: RunHandle, deadline: float) -> Run:
        handle.openai_calls += 1
        with _quiet():
            return self.request(
                "threads.runs.retrieve",
                lambda c: c.beta.threads.runs.retrieve(handle.run_id, thread_id=handle.thread_id),
                deadline=deadline,
            )

    def _cancel(self, handle: RunHandle) -> None:
        handle.openai_calls += 1
        try:
            with _quiet(), translate_errors("threads.runs.cancel"):
                self.client.with_options(timeout=CLEANUP_TIMEOUT_S, max_retries=0).beta.threads.runs.cancel(
                    handle.run_id, thread_id=handle.thread_id
                )
        except EngineError as exc:
            logger.warning("could not cancel run %s: %s", handle.run_id, exc)
        else:
            logger.info("cancelled run %s", handle.run_id)
