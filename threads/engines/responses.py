"""The default engine: one OpenAI Conversation per user, one Response per turn, an explicit tool loop.

A turn is one `responses.create` in the user's conversation with the buffered user messages,
our instructions and the tool registry. When the model calls functions, their outputs go back
as `function_call_output` items in the same conversation until a message comes out. The
conversation holds the memory, so a returning user without tool calls costs one request.
"""

import contextlib
import functools
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai
from django.conf import settings
from openai.types.responses import Response, ResponseFunctionToolCall

from ..exceptions import EngineError, RunFailed, RunTimeout, ThreadNotFound, ThreadsError, ToolRoundsExceeded
from ..pricing import Usage
from ..tools import execute_tool_call, tool_schemas_for_responses
from .base import (
    BaseEngine,
    ModelConfig,
    RunHandle,
    RunResult,
    SeedMessage,
    UserMessage,
    carrying_usage,
    remaining_s,
    translate_errors,
)

logger = logging.getLogger(__name__)

# conversations.create and conversations.items.create take at most 20 items per call.
ITEMS_PER_CALL = 20
UNFINISHED = frozenset({"queued", "in_progress"})
FAILED = frozenset({"failed", "cancelled", "incomplete"})
POLL_INITIAL_S = 0.25
POLL_MAX_S = 2.0
# Short, fixed budget for the best-effort calls that tidy up after a failed turn.
CLEANUP_TIMEOUT_S = 5.0


@dataclass
class ResponseStep:
    """A finished response, handled: the final text, or the tool outputs to send back next."""

    text: str | None  # final assistant text when the model answered; None when it called tools
    outputs: list[dict[str, Any]]  # function_call_output items for the next request
    tool_calls: list[dict]  # {"name", "ok", "ms"} per executed call


class ResponsesEngine(BaseEngine):
    name = "responses"
    supports_background = True

    def __init__(self, client: openai.OpenAI, *, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(client, config=config, **kwargs)
        self.config: ModelConfig = config
        # User messages wait here until start_run sends them in the same request as the turn.
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._pending_lock = threading.Lock()

    # --- threads ---------------------------------------------------------------------------

    def create_thread(self, *, seed: Sequence[SeedMessage] = (), deadline: float | None = None) -> str:
        """Create a conversation holding `seed`: 20 items in the create call, the rest 20 at a time."""
        items: list[Any] = [_message_item(message.role, message.text) for message in seed if message.text.strip()]
        conversation = self.request(
            "conversations.create",
            lambda c: c.conversations.create(items=items[:ITEMS_PER_CALL] or openai.omit),
            deadline=deadline,
            not_found=EngineError,
        )
        try:
            for start in range(ITEMS_PER_CALL, len(items), ITEMS_PER_CALL):
                self.request(
                    "conversations.items.create",
                    functools.partial(_add_items, conversation.id, items[start : start + ITEMS_PER_CALL]),
                    deadline=deadline,
                )
        except (EngineError, RunTimeout):
            # A half-seeded conversation would silently forget part of the transcript.
            self._delete_quietly(conversation.id)
            raise
        logger.info("created conversation %s seeded with %d items", conversation.id, len(items))
        return conversation.id

    def delete_thread(self, thread_id: str) -> None:
        with self._pending_lock:
            self._pending.pop(thread_id, None)
        with contextlib.suppress(ThreadNotFound), translate_errors("conversations.delete"):
            self.client.conversations.delete(thread_id)
        logger.info("deleted conversation %s", thread_id)

    def add_user_message(self, thread_id: str, text: str | UserMessage, *, deadline: float | None = None) -> None:
        """Buffer the message locally: it travels with the turn's single responses.create."""
        self.check_thread_id(thread_id)
        with self._pending_lock:
            self._pending.setdefault(thread_id, []).append(_message_item("user", text))

    # --- synchronous turns -----------------------------------------------------------------

    def start_run(self, thread_id: str, *, deadline: float | None = None) -> RunHandle:
        self.check_thread_id(thread_id)
        items = self._take_pending(thread_id)
        if not items:
            raise ThreadsError(f"start_run on {thread_id} without a user message")
        handle = RunHandle(thread_id=thread_id, run_id="", status="queued")
        self._create_response(handle, items, deadline=deadline)
        return handle

    def wait_for_run(self, handle: RunHandle, *, deadline: float) -> RunHandle:
        """Run the tool loop until the model answers with a message.

        Rounds are bounded by OPENAI_MAX_TOOL_ROUNDS; the deadline is checked between rounds
        and each request gets only the time left. A turn that stops with function calls
        unanswered gets error outputs added to the conversation, because OpenAI refuses the
        next turn of a conversation whose function calls have no output.
        """
        while True:
            response = self._wait_until_finished(handle, deadline)
            calls = function_calls(response)
            if calls and handle.rounds >= settings.OPENAI_MAX_TOOL_ROUNDS:
                self._close_calls(handle, _abandoned_outputs(calls, "límite de rondas de herramientas alcanzado"))
                raise ToolRoundsExceeded(
                    f"response {response.id} still calls tools after {handle.rounds} rounds "
                    f"(OPENAI_MAX_TOOL_ROUNDS={settings.OPENAI_MAX_TOOL_ROUNDS})"
                )
            step = self.handle_response(response)
            handle.tool_calls.extend(step.tool_calls)
            if step.text is not None:
                handle.text = _final_text(response, step.text)
                handle.status = "completed"
                return handle
            handle.rounds += 1
            self._send_outputs(handle, step.outputs, deadline=deadline)

    def get_last_assistant_message(self, handle: RunHandle, *, deadline: float | None = None) -> str:
        """Return the final text kept on the handle: the response already carried it (no request)."""
        if handle.text is None:
            raise ThreadsError(f"response {handle.run_id} has not finished")
        return handle.text

    def handle_response(self, response: Response) -> ResponseStep:
        """Handle a finished response: execute its function calls, or return its text.

        Shared by the synchronous tool loop and background turns resumed by the webhook.
        """
        _raise_if_failed(response)
        calls = function_calls(response)
        if not calls:
            return ResponseStep(text=response.output_text, outputs=[], tool_calls=[])
        outputs: list[dict[str, Any]] = []
        records: list[dict] = []
        for call in calls:
            outcome = execute_tool_call(call.name, call.arguments)
            outputs.append({"type": "function_call_output", "call_id": call.call_id, "output": outcome.output})
            records.append({"name": call.name[:64], "ok": outcome.ok, "ms": outcome.ms})
        return ResponseStep(text=None, outputs=outputs, tool_calls=records)

    def check_connection(self) -> str:
        with translate_errors("models.retrieve", not_found=EngineError):
            model = self.client.models.retrieve(self.config.model)
        return f"responses engine: model {model.id} is available"

    # --- background turns ------------------------------------------------------------------

    def start_background(self, thread_id: str, texts: Sequence[str | UserMessage]) -> str:
        self.check_thread_id(thread_id)
        items = self._take_pending(thread_id) + [_message_item("user", text) for text in texts]
        if not items:
            raise ThreadsError(f"start_background on {thread_id} without a user message")
        handle = RunHandle(thread_id=thread_id, run_id="", status="queued")
        self._create_response(handle, items, background=True)
        logger.info("started background response %s in %s", handle.run_id, thread_id)
        return handle.run_id

    def resume_background(self, response_id: str, *, state: dict) -> RunResult:
        """Advance a background turn: retrieve the response, then answer its tools or finish.

        A response that is still working comes back as `done=False` with the same id.
        """
        with translate_errors("responses.retrieve", not_found=EngineError):
            response = self.client.responses.retrieve(response_id)
        conversation = getattr(response, "conversation", None)
        thread_id = getattr(conversation, "id", None) or state.get("thread_id", "")
        handle = RunHandle(thread_id=thread_id, run_id=response.id, status=response.status or "", openai_calls=1)
        if response.status in UNFINISHED:
            return handle.result(done=False, state=state)
        _add_usage(handle, response)
        with carrying_usage(handle, default_model=self.config.model):
            return self._advance(handle, response, state=state)

    def _advance(self, handle: RunHandle, response: Response, *, state: dict) -> RunResult:
        """Answer a finished background response's tool calls (starting the next one), or finish the turn."""
        thread_id = handle.thread_id
        rounds = int(state.get("rounds", 0))
        calls = function_calls(response)
        if calls and rounds >= settings.OPENAI_MAX_TOOL_ROUNDS:
            self._close_calls(handle, _abandoned_outputs(calls, "límite de rondas de herramientas alcanzado"))
            raise ToolRoundsExceeded(f"background response {response.id} still calls tools after {rounds} rounds")
        step = self.handle_response(response)
        handle.tool_calls.extend(step.tool_calls)
        state = {**state, "rounds": rounds, "thread_id": thread_id}
        if step.text is not None:
            handle.text = _final_text(response, step.text)
            return handle.result(done=True, state=state)
        handle.rounds = rounds + 1
        self._send_outputs(handle, step.outputs, background=True)
        return handle.result(done=False, state={**state, "rounds": handle.rounds})

    def cancel_background(self, response_id: str) -> None:
        try:
            with translate_errors("responses.cancel", not_found=EngineError):
                self.client.with_options(timeout=CLEANUP_TIMEOUT_S, max_retries=0).responses.cancel(response_id)
        except EngineError as exc:
            logger.warning("could not cancel response %s: %s", response_id, exc)
        else:
            logger.info("cancelled background response %s", response_id)

    # --- helpers ---------------------------------------------------------------------------

    def _take_pending(self, thread_id: str) -> list[dict[str, Any]]:
        with self._pending_lock:
            return self._pending.pop(thread_id, [])

    def _create_response(
        self,
        handle: RunHandle,
        items: list[dict[str, Any]],
        *,
        deadline: float | None = None,
        background: bool = False,
    ) -> Response:
        """Send one responses.create in the handle's conversation and record it on the handle.

        A conversation left with unanswered function calls (a request that timed out on our
        side after OpenAI had started on it) refuses every later response; those calls get
        error outputs and the request is sent once more.
        """
        try:
            response = self._post_response(handle, items, deadline=deadline, background=background)
        except ThreadNotFound:
            self._confirm_conversation_gone(handle, deadline)
            raise
        except EngineError as exc:
            if not _is_unanswered_call_error(exc.__cause__):
                raise
            logger.warning("conversation %s has unanswered function calls; answering them", handle.thread_id)
            if not self._answer_dangling_calls(handle, deadline):
                raise
            response = self._post_response(handle, items, deadline=deadline, background=background)
        handle.raw = response
        handle.run_id = response.id
        handle.status = response.status or ""
        if response.status not in UNFINISHED:
            _add_usage(handle, response)
        logger.debug("response %s in %s: %s", response.id, handle.thread_id, response.status)
        return response

    def _post_response(
        self, handle: RunHandle, items: list[Any], *, deadline: float | None, background: bool
    ) -> Response:
        """Send the request with its cacheable prefix first: instructions, then tools, then this turn's input."""
        config = self.config
        extra: dict[str, Any] = {"background": True} if background else {}
        if config.reasoning_effort:
            extra["reasoning"] = {"effort": config.reasoning_effort}
        if config.max_output_tokens:
            extra["max_output_tokens"] = config.max_output_tokens
        handle.openai_calls += 1
        return self.request(
            "responses.create",
            lambda c: c.responses.create(
                model=config.model,
                instructions=config.instructions,
                tools=tool_schemas_for_responses(),
                conversation=handle.thread_id,
                input=items,
                store=True,
                prompt_cache_key=prompt_cache_key(handle.thread_id),
                **extra,
            ),
            deadline=deadline,
        )

    def _confirm_conversation_gone(self, handle: RunHandle, deadline: float | None) -> None:
        """Check that a 404 from responses.create meant the conversation, not the model or the URL.

        Treating any 404 as a lost conversation would replace the user's real conversation with
        a new seeded one on every message (a proxy without /responses, an unknown model).
        """
        handle.openai_calls += 1
        try:
            self.request(
                "conversations.retrieve", lambda c: c.conversations.retrieve(handle.thread_id), deadline=deadline
            )
        except ThreadNotFound:
            return
        raise EngineError(f"OpenAI responses.create: not found, though conversation {handle.thread_id} exists")

    def _answer_dangling_calls(self, handle: RunHandle, deadline: float | None) -> bool:
        """Give error outputs to the conversation's unanswered function calls; tell whether there were any."""
        handle.openai_calls += 1
        page = self.request(
            "conversations.items.list",
            lambda c: c.conversations.items.list(handle.thread_id, order="desc", limit=100),
            deadline=deadline,
        )
        answered = {item.call_id for item in page.data if item.type == "function_call_output"}
        dangling = [item for item in page.data if item.type == "function_call" and item.call_id not in answered]
        if dangling:
            self._close_calls(handle, _abandoned_outputs(dangling, "la consulta se interrumpió"))
        return bool(dangling)

    def _send_outputs(
        self,
        handle: RunHandle,
        outputs: list[dict[str, Any]],
        *,
        deadline: float | None = None,
        background: bool = False,
    ) -> None:
        """Answer the model's function calls; if that request fails, leave the outputs in the conversation."""
        try:
            self._create_response(handle, outputs, deadline=deadline, background=background)
        except ThreadNotFound:
            raise
        except EngineError:
            self._close_calls(handle, outputs)
            raise

    def _wait_until_finished(self, handle: RunHandle, deadline: float) -> Response:
        """Return the handle's response once finished; a background one is polled with back-off."""
        response: Response = handle.raw
        if response.status not in UNFINISHED:
            return response
        delay = POLL_INITIAL_S
        try:
            while response.status in UNFINISHED:
                self.sleep(min(delay, remaining_s(deadline, what="the response finished")))
                delay = min(delay * 2, POLL_MAX_S)
                handle.openai_calls += 1
                response = self.request(
                    "responses.retrieve",
                    functools.partial(_retrieve_response, response.id),
                    deadline=deadline,
                    not_found=EngineError,
                )
                handle.raw = response
                handle.status = response.status or ""
        except RunTimeout:
            self.cancel_background(response.id)
            raise
        _add_usage(handle, response)
        return response

    def _close_calls(self, handle: RunHandle, outputs: list[dict[str, Any]]) -> None:
        """Add outputs for function calls the turn leaves unanswered, best effort."""
        client = self.client.with_options(timeout=CLEANUP_TIMEOUT_S, max_retries=0)
        for start in range(0, len(outputs), ITEMS_PER_CALL):
            handle.openai_calls += 1
            try:
                with translate_errors("conversations.items.create"):
                    _add_items(handle.thread_id, outputs[start : start + ITEMS_PER_CALL], client)
            except EngineError as exc:
                logger.warning("could not close function calls in %s: %s", handle.thread_id, exc)
                return

    def _delete_quietly(self, thread_id: str) -> None:
        """Delete a half-seeded conversation, best effort and briefly (the turn is already failing)."""
        try:
            with translate_errors("conversations.delete"):
                self.client.with_options(timeout=CLEANUP_TIMEOUT_S, max_retries=0).conversations.delete(thread_id)
        except EngineError as exc:
            logger.warning("could not delete half-seeded conversation %s: %s", thread_id, exc)


def function_calls(response: Response) -> list[ResponseFunctionToolCall]:
    """Return the response's function calls, in order."""
    return [item for item in response.output if item.type == "function_call"]


def _add_items(conversation_id: str, items: list[Any], client: openai.OpenAI) -> Any:
    return client.conversations.items.create(conversation_id, items=items)


def _retrieve_response(response_id: str, client: openai.OpenAI) -> Response:
    return client.responses.retrieve(response_id)


def _message_item(role: str, text: str | UserMessage) -> dict[str, Any]:
    """A message input item; a message with images gets content parts: its text, then each `input_image`."""
    if isinstance(text, UserMessage):
        if not text.images:
            return {"type": "message", "role": role, "content": text.text}
        parts: list[dict[str, Any]] = [{"type": "input_text", "text": text.text}]
        parts += [{"type": "input_image", "image_url": i.data_url, "detail": i.detail} for i in text.images]
        return {"type": "message", "role": role, "content": parts}
    return {"type": "message", "role": role, "content": text}


def _abandoned_outputs(calls: Sequence[Any], reason: str) -> list[dict[str, Any]]:
    output = f'{{"error": "{reason}"}}'
    return [{"type": "function_call_output", "call_id": call.call_id, "output": output} for call in calls]


def _is_unanswered_call_error(exc: BaseException | None) -> bool:
    if not isinstance(exc, openai.BadRequestError):
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    return str(body.get("message") or "").startswith("No tool output found for function call")


def _raise_if_failed(response: Response) -> None:
    if response.status in FAILED:
        error = getattr(response, "error", None)
        details = getattr(response, "incomplete_details", None)
        reason = getattr(error, "code", None) or getattr(details, "reason", None) or "no reason given"
        raise RunFailed(f"response {response.id} ended {response.status} ({reason})")
    if response.status in UNFINISHED:
        raise ThreadsError(f"response {response.id} has not finished ({response.status})")


def _final_text(response: Response, text: str) -> str:
    if not text.strip():
        raise RunFailed(f"response {response.id} completed without a message")
    return text


def prompt_cache_key(thread_id: str) -> str:
    """Group a user's requests for OpenAI's prompt cache: one conversation per user, so one key per user.

    Hashed so the key says nothing about the user, and short enough for the API's limit.
    """
    return "brenda-" + hashlib.sha256(thread_id.encode()).hexdigest()[:32]


def _add_usage(handle: RunHandle, response: Response) -> None:
    handle.usage += Usage.from_api(getattr(response, "usage", None))
    handle.model = getattr(response, "model", None) or handle.model
