"""A stateful fake of the OpenAI HTTP API, for tests of anything that talks to OpenAI.

It implements the endpoints Brenda's engines use — Conversations, Responses (background
mode included), Models, Audio transcriptions, and the legacy Assistants API (assistants,
threads, messages, runs) —
behind one core, `FakeOpenAI.handle(method, path, json_body) -> (status, json)`, reachable two
ways:

- in process: ``fake.client()``, or ``OpenAI(api_key="sk-test", base_url="http://fake/v1",
  http_client=httpx2.Client(transport=fake.transport()))``;
- over real HTTP: ``base_url = fake.serve()`` starts a server on 127.0.0.1 (random port, daemon
  thread) and returns e.g. ``"http://127.0.0.1:PORT/v1"``; point ``settings.OPENAI_BASE_URL``
  (and an ``OPENAI_API_KEY``) at it so any process — db_worker, gunicorn — can use it. Call
  ``fake.stop()`` at the end.

A scripted "model" answers:

- if the latest user message mentions a course, a topic or a level (and the request offers
  tools), it calls ``buscar_curso`` with arguments derived from the text; after receiving the
  ``function_call_output`` it answers with a message naming the first course of the output;
- otherwise it answers ``"Hola, soy Brenda. …"``, echoing the user's latest text(s) and, if any
  earlier user message said "me llamo X", ``"Te llamas X."`` — so a test can tell whether the
  model saw the conversation's history.

Tests steer it:

- ``fake.script(responses=[...])`` dictates the next model outputs (shared by both APIs), each
  one a text, ``message(text)``, ``function_call(name, arguments)`` (arguments may be invalid
  JSON on purpose), a list of those (several outputs in one response), or ``failed()`` /
  ``incomplete()`` / ``expired()`` for a response/run that ends badly;
- ``fake.fail_next(path_substring, status, body=None, times=1, method=None)`` makes the next
  matching requests fail (429, 500, 404, or 400 with ``body=CONVERSATION_LOCKED``); error
  answers carry ``retry-after-ms: 10`` so the SDK's own retries are fast;
- ``fake.latency_s`` delays every request; in process, a request whose read timeout is
  shorter than the latency is still processed, then raises ``httpx2.ReadTimeout`` (the
  server worked, the client gave up), as over the network;
- background responses (``background=True``) stay ``queued``/``in_progress`` until
  ``fake.complete_background(response_id)`` (which returns the webhook event payload), or,
  when ``fake.background_delay_s`` is set, until a retrieve that late;
- Assistants runs go ``queued`` → ``in_progress`` → ``completed`` or ``requires_action``, one
  step per retrieve (``fake.run_retrieves_per_step`` retrieves per model step);
- ``fake.forget(id)`` deletes a conversation or thread: requests about it then get 404;
- ``fake.script_usage([...])`` (or appending to ``fake.usage_overrides``) dictates the ``usage``
  of the next responses, in order, verbatim (missing details and ``total_tokens`` are filled
  in), for exact cost arithmetic;
- ``fake.set_model(model_id, *, exists=True, **fields)`` adds fields to ``GET /v1/models/{id}``
  (e.g. ``shutdown_date="2026-12-11"``; ``fake.models`` holds them); ``exists=False`` makes the
  model answer 404 ``model_not_found``, there and on ``POST /v1/responses``. Unknown ids exist,
  with ``"shutdown_date": None``;
- ``fake.default_reasoning_effort`` (``"medium"``, like the real reasoning models) is the
  effort of a request without ``reasoning``; ``None`` plays a model without reasoning (0
  reasoning tokens, ``reasoning.effort`` echoed as ``None``);
- ``fake.reset_prompt_cache()`` forgets the cached prompt prefixes;
- ``fake.script_transcriptions([...])`` dictates the next texts of ``POST
  /v1/audio/transcriptions`` (multipart; JSON answers only; an entry ``{"text", "usage"}`` sets
  the usage verbatim, e.g. ``{"type": "duration", "seconds": 9.5}``), else it answers
  ``"(audio de N bytes)"`` with token usage; the recorded body is the form: text fields as ``str``, the file as
  ``{"filename", "content_type", "data"}``.

Responses report usage like the real API: ``input_tokens`` ≈ chars/4 of the prompt — the
instructions, ``json.dumps`` of the tools as sent, then the conversation's items as JSON. The
fake simulates prompt caching: it remembers every prompt per bucket (the model and the
request's ``prompt_cache_key``, ``None`` when absent) as a chain of 128-token blocks, and
``input_tokens_details.cached_tokens`` is the longest prefix, in whole blocks, shared with an
earlier prompt of the bucket, if at least 1,024 tokens (else 0); ``cache_write_tokens`` counts
the blocks the request adds (0 under 1,024 tokens). So a second turn of a long conversation
is mostly cached, and changing the instructions or the tools breaks the cache.
``reasoning.effort`` adds ``output_tokens_details.reasoning_tokens`` (none/minimal 0, low 16,
medium 64 — also for ``reasoning`` without an effort —, high 256, xhigh 512, max 1024; other
values get 400), counted in ``output_tokens``. Responses echo ``reasoning``,
``max_output_tokens`` (at least 16, else 400), ``prompt_cache_key`` and
``prompt_cache_retention``; when the output tokens (reasoning included) exceed
``max_output_tokens``, the response ends ``incomplete`` (reason ``max_output_tokens``) with no
output and its usage capped at the limit. Failed and incomplete responses report usage too.
Assistants runs keep a simpler usage (no caching or reasoning).

Like the real API, a conversation with a response in progress refuses another one (400
``conversation_locked``), a thread with an active run refuses new messages and runs, and a
conversation whose function calls lack outputs refuses the next response.

Every request is recorded in ``fake.requests`` as ``(method, path, body)`` (path without the
query string; body ``None`` for GET/DELETE); ``fake.log`` has the query and the timeout too.
Everything is thread-safe.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import json
import re
import threading
import time
import unicodedata
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import openai

CONVERSATION_LOCKED = {
    "error": {
        "message": "Another process is currently operating on this conversation. Please retry in a few seconds.",
        "type": "invalid_request_error",
        "param": "conversation",
        "code": "conversation_locked",
    }
}
ACTIVE_STATUSES = frozenset({"queued", "in_progress"})
ACTIVE_RUN_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
RETRYABLE = frozenset({408, 409, 429})
CHARS_PER_TOKEN = 4
CACHE_BLOCK_TOKENS = 128  # prompt caching hits come in 128-token increments...
CACHE_MIN_TOKENS = 1024  # ...from a 1,024-token prefix on
REASONING_TOKENS = {"none": 0, "minimal": 0, "low": 16, "medium": 64, "high": 256, "xhigh": 512, "max": 1024}


# --- script entries -------------------------------------------------------------------------


def message(text: str) -> dict:
    """A scripted model output: an assistant message."""
    return {"type": "message", "text": text}


def function_call(name: str, arguments: str | dict | None = None, *, call_id: str | None = None) -> dict:
    """A scripted model output: a function call (a str `arguments` is sent verbatim, valid JSON or not)."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {"type": "function_call", "name": name, "arguments": arguments, "call_id": call_id}


def failed(code: str = "server_error", text: str = "The model failed (scripted).") -> dict:
    """A scripted outcome: the response/run ends `failed`."""
    return {"status": "failed", "error": {"code": code, "message": text}}


def incomplete(reason: str = "max_output_tokens") -> dict:
    """A scripted outcome: the response/run ends `incomplete`."""
    return {"status": "incomplete", "incomplete_details": {"reason": reason}}


def expired() -> dict:
    """A scripted outcome: the Assistants run ends `expired` (a response would end `failed`)."""
    return {"status": "expired", "error": {"code": "expired", "message": "The run expired (scripted)."}}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    query: dict[str, str]
    timeout: float | None  # the client's read timeout (in-process transport only)


@dataclass
class _Failure:
    path: str
    status: int
    body: dict | None
    times: int
    method: str | None


class FakeOpenAI:
    """A stateful fake OpenAI server; see the module docstring."""

    def __init__(self, *, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.background_delay_s: float | None = None
        self.run_retrieves_per_step = 2
        self.log: list[RecordedRequest] = []
        self.conversations: dict[str, dict] = {}
        self.responses: dict[str, dict] = {}
        self.threads: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self._response_meta: dict[str, dict] = {}
        self._run_meta: dict[str, dict] = {}
        self._script: collections.deque = collections.deque()
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.models: dict[str, dict] = {}
        self.usage_overrides: list[dict] = []
        self.default_reasoning_effort: str | None = "medium"
        self._prompt_cache: dict[tuple[str, str | None], set[bytes]] = {}
        self._transcripts: collections.deque[str | dict] = collections.deque()

    # --- steering -------------------------------------------------------------------------

    def script(self, responses: list) -> None:
        """Queue model outputs to use, in order, before the default behaviour resumes."""
        with self._lock:
            self._script.extend(responses)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    def fail_next(
        self, path_substring: str, status: int, body: dict | None = None, *, times: int = 1, method: str | None = None
    ) -> None:
        """Make the next `times` requests whose path contains `path_substring` fail with `status`."""
        with self._lock:
            self._failures.append(_Failure(path_substring, status, body, times, method))

    def script_usage(self, usages: list[dict]) -> None:
        """Queue the exact `usage` of the next responses, in order (see `_scripted_usage`)."""
        with self._lock:
            self.usage_overrides.extend(copy.deepcopy(usages))

    def set_model(self, model_id: str, *, exists: bool = True, **fields: Any) -> None:
        """Register a model: extra `fields` for GET /v1/models/{id}; `exists=False` answers 404."""
        with self._lock:
            self.models[model_id] = {"exists": exists, **fields}

    def reset_prompt_cache(self) -> None:
        with self._lock:
            self._prompt_cache.clear()

    def script_transcriptions(self, texts: list[str | dict]) -> None:
        """Queue the next audio transcriptions: a text, or {"text", "usage"} with the usage to answer verbatim."""
        with self._lock:
            self._transcripts.extend(texts)

    def forget(self, object_id: str) -> None:
        """Delete a conversation or thread server-side, as if it expired."""
        with self._lock:
            self.conversations.pop(object_id, None)
            self.threads.pop(object_id, None)

    def complete_background(self, response_id: str) -> dict:
        """Finish a background response now; return the webhook event OpenAI would send for it."""
        with self._lock:
            response = self.responses[response_id]
            if response["status"] in ACTIVE_STATUSES:
                self._finish_response(response_id)
            return {
                "id": f"evt_{uuid.uuid4().hex}",
                "object": "event",
                "type": f"response.{response['status']}",
                "created_at": int(time.time()),
                "data": {"id": response_id},
            }

    # --- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, str, Any]]:
        """Every request so far as (method, path, body)."""
        with self._lock:
            return [(r.method, r.path, r.body) for r in self.log]

    def calls(self, path_contains: str = "", method: str | None = None) -> list[RecordedRequest]:
        """The recorded requests whose path contains `path_contains` (and of `method`, if given)."""
        with self._lock:
            return [r for r in self.log if path_contains in r.path and (method is None or r.method == method)]

    def reset_requests(self) -> None:
        with self._lock:
            self.log.clear()

    def conversation_items(self, conversation_id: str) -> list[dict]:
        """A copy of a conversation's items, oldest first."""
        with self._lock:
            return copy.deepcopy(self.conversations[conversation_id]["items"])

    def thread_messages(self, thread_id: str) -> list[dict]:
        """A copy of a thread's messages, oldest first."""
        with self._lock:
            return copy.deepcopy(self.threads[thread_id]["messages"])

    # --- transports -----------------------------------------------------------------------

    def client(self, **options: Any) -> openai.OpenAI:
        """An OpenAI client wired to this fake in process (max_retries=0 unless given)."""
        options.setdefault("max_retries", 0)
        return openai.OpenAI(
            api_key="sk-test",
            base_url="http://fake/v1",
            http_client=httpx2.Client(transport=self.transport()),
            **options,
        )

    def transport(self) -> httpx2.MockTransport:
        """An httpx2 transport that answers from this fake."""

        def handler(request: httpx2.Request) -> httpx2.Response:
            body = _parse_body(request.content, request.headers.get("content-type"))
            path = request.url.raw_path.decode()
            read_timeout = (request.extensions.get("timeout") or {}).get("read")
            headers = dict(request.headers)
            if self.latency_s and read_timeout is not None and self.latency_s > read_timeout:
                self._record(request.method, path, body, read_timeout)
                self._respond(request.method, path, body, headers)
                time.sleep(read_timeout)
                raise httpx2.ReadTimeout("fake OpenAI: latency exceeds the read timeout", request=request)
            status, payload = self.handle(request.method, path, body, headers=headers, timeout=read_timeout)
            return httpx2.Response(status, json=payload, headers=_response_headers(status))

        return httpx2.MockTransport(handler)

    def serve(self) -> str:
        """Serve this fake over HTTP on 127.0.0.1 (random port) and return its base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = _parse_body(raw, self.headers.get("Content-Type"))
                status, payload = fake.handle(self.command, self.path, body, headers=dict(self.headers.items()))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in {**_response_headers(status), "Content-Type": "application/json"}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        ).start()
        self._server = server
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    def stop(self) -> None:
        """Stop the server started by `serve`, if any."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- the core -------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, dict]:
        """Answer one request: record it, wait `latency_s`, then act on the fake's state."""
        self._record(method, path, json_body, timeout)
        if self.latency_s:
            time.sleep(self.latency_s)
        return self._respond(method, path, json_body, headers)

    def _record(self, method: str, path: str, body: Any, timeout: float | None) -> None:
        parts = urlsplit(path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        with self._lock:
            self.log.append(RecordedRequest(method.upper(), parts.path, body, query, timeout))

    def _respond(self, method: str, path: str, body: Any, headers: dict[str, str] | None) -> tuple[int, dict]:
        method = method.upper()
        parts = urlsplit(path)
        route = re.sub(r"^/v1(?=/)", "", parts.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        with self._lock:
            failure = self._take_failure(method, parts.path)
            if failure is not None:
                return failure
            if headers is not None and not _bearer(headers):
                return _error(401, "You didn't provide an API key.", "invalid_request_error")
            for pattern, route_method, action in _ROUTES:
                match = pattern.fullmatch(route)
                if match and route_method == method:
                    return action(self, *match.groups(), body=body or {}, query=query)
            return _error(404, f"Invalid URL ({method} {parts.path})", "invalid_request_error")

    def _take_failure(self, method: str, path: str) -> tuple[int, dict] | None:
        for failure in self._failures:
            if failure.path in path and (failure.method is None or failure.method == method):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure.status, failure.body or _default_error_body(failure.status)
        return None

    # --- conversations --------------------------------------------------------------------

    def _create_conversation(self, *, body: dict, query: dict) -> tuple[int, dict]:
        items = body.get("items") or []
        if len(items) > 20:
            return _error(400, "You may add up to 20 items at a time.", param="items")
        conversation_id = _new_id("conv")
        conversation = {"id": conversation_id, "created_at": int(time.time()), "metadata": body.get("metadata") or {}}
        self.conversations[conversation_id] = {**conversation, "items": []}
        problem = self._append_items(conversation_id, items)
        if problem:
            del self.conversations[conversation_id]
            return problem
        return 200, {**conversation, "object": "conversation"}

    def _get_conversation(self, conversation_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            return _not_found("Conversation", conversation_id)
        return 200, {key: conversation[key] for key in ("id", "created_at", "metadata")} | {"object": "conversation"}

    def _delete_conversation(self, conversation_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if self.conversations.pop(conversation_id, None) is None:
            return _not_found("Conversation", conversation_id)
        return 200, {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    def _create_items(self, conversation_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if conversation_id not in self.conversations:
            return _not_found("Conversation", conversation_id)
        items = body.get("items") or []
        if len(items) > 20:
            return _error(400, "You may add up to 20 items at a time.", param="items")
        before = len(self.conversations[conversation_id]["items"])
        problem = self._append_items(conversation_id, items)
        if problem:
            return problem
        return 200, _list_page(self.conversations[conversation_id]["items"][before:])

    def _list_items(self, conversation_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if conversation_id not in self.conversations:
            return _not_found("Conversation", conversation_id)
        items = list(self.conversations[conversation_id]["items"])
        return 200, _paginate(items, query, default_order="desc")

    def _append_items(self, conversation_id: str, raw_items: list) -> tuple[int, dict] | None:
        """Store input items; refuse an output for a call that does not exist or already has one."""
        items = self.conversations[conversation_id]["items"]
        new = [_input_item(raw) for raw in raw_items]
        open_calls = _open_calls(items)
        for item in new:
            if item["type"] == "function_call_output":
                if item["call_id"] not in open_calls:
                    return _error(
                        400, f"No tool call found for function call output with call_id {item['call_id']}.", "input"
                    )
                open_calls.discard(item["call_id"])
        items.extend(new)
        return None

    # --- responses ------------------------------------------------------------------------

    def _create_response(self, *, body: dict, query: dict) -> tuple[int, dict]:
        if not body.get("model"):
            return _error(400, "Missing required parameter: 'model'.", param="model")
        if self._model_gone(body["model"]):
            return _model_not_found(body["model"])
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else None
        effort = (reasoning.get("effort") or "medium") if reasoning is not None else self.default_reasoning_effort
        if effort is not None and effort not in REASONING_TOKENS:
            return _error(
                400,
                f"Invalid value: '{effort}'. Supported values are: {', '.join(REASONING_TOKENS)}.",
                code="invalid_value",
                param="reasoning.effort",
            )
        max_output_tokens = body.get("max_output_tokens")
        if max_output_tokens is not None and max_output_tokens < 16:
            return _error(
                400,
                f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
                f"but got {max_output_tokens} instead.",
                code="integer_below_min_value",
                param="max_output_tokens",
            )
        conversation = body.get("conversation")
        conversation_id = conversation.get("id") if isinstance(conversation, dict) else conversation
        if conversation_id and body.get("previous_response_id"):
            return _error(400, "previous_response_id cannot be used together with conversation.", "conversation")
        if not conversation_id:
            return _error(400, "This fake only supports responses in a conversation.", param="conversation")
        if conversation_id not in self.conversations:
            return _not_found("Conversation", conversation_id)
        if any(
            meta["conversation"] == conversation_id and self._refresh(response_id)["status"] in ACTIVE_STATUSES
            for response_id, meta in self._response_meta.items()
        ):
            return 400, copy.deepcopy(CONVERSATION_LOCKED)
        raw_input = body.get("input")
        if raw_input in (None, "", []):
            return _error(400, "Missing required parameter: 'input'.", param="input")
        if isinstance(raw_input, str):
            raw_input = [{"type": "message", "role": "user", "content": raw_input}]
        items = self.conversations[conversation_id]["items"]
        answered = {i["call_id"] for i in raw_input if isinstance(i, dict) and i.get("type") == "function_call_output"}
        unanswered = sorted(_open_calls(items) - answered)
        if unanswered:
            return _error(400, f"No tool output found for function call {unanswered[0]}.", param="input")
        problem = self._append_items(conversation_id, raw_input)
        if problem:
            return problem
        response_id = _new_id("resp")
        background = bool(body.get("background"))
        self.responses[response_id] = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "queued" if background else "in_progress",
            "background": background,
            "model": body["model"],
            "instructions": body.get("instructions"),
            "conversation": {"id": conversation_id},
            "output": [],
            "tools": body.get("tools") or [],
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": True,
            "store": body.get("store", True),
            "metadata": body.get("metadata") or {},
            "reasoning": {"effort": effort, "summary": (reasoning or {}).get("summary")},
            "max_output_tokens": max_output_tokens,
            "prompt_cache_key": body.get("prompt_cache_key"),
            "prompt_cache_retention": body.get("prompt_cache_retention"),
            "error": None,
            "incomplete_details": None,
            "usage": None,
        }
        self._response_meta[response_id] = {"conversation": conversation_id, "started": time.monotonic()}
        if not background:
            self._finish_response(response_id)
        return 200, copy.deepcopy(self.responses[response_id])

    def _get_response(self, response_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if response_id not in self.responses:
            return _not_found("Response", response_id)
        response = self._refresh(response_id)
        if response["status"] == "queued":
            response["status"] = "in_progress"
        return 200, copy.deepcopy(response)

    def _cancel_response(self, response_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if response_id not in self.responses:
            return _not_found("Response", response_id)
        response = self._refresh(response_id)
        if not response["background"]:
            return _error(400, "Only responses created with background=true can be cancelled.")
        if response["status"] in ACTIVE_STATUSES:
            response["status"] = "cancelled"
        return 200, copy.deepcopy(response)

    def _refresh(self, response_id: str) -> dict:
        """Complete a background response whose `background_delay_s` has passed."""
        response = self.responses[response_id]
        started = self._response_meta[response_id]["started"]
        if (
            response["status"] in ACTIVE_STATUSES
            and self.background_delay_s is not None
            and time.monotonic() - started >= self.background_delay_s
        ):
            self._finish_response(response_id)
        return response

    def _finish_response(self, response_id: str) -> None:
        """Let the model produce the response's output and store it in the conversation."""
        response = self.responses[response_id]
        conversation_id = self._response_meta[response_id]["conversation"]
        conversation = self.conversations.get(conversation_id)
        history = [_history_entry(item) for item in (conversation["items"] if conversation else [])]
        tools_on = bool(response["tools"]) and response["tool_choice"] != "none"
        decision = self._decide(history, tools_on=tools_on)
        usage, over_limit = self._response_usage(response, history, decision.get("outputs", []))
        response["usage"] = usage
        if "status" in decision:
            response["status"] = "incomplete" if decision["status"] == "expired" else decision["status"]
            response["error"] = decision.get("error")
            response["incomplete_details"] = decision.get("incomplete_details")
            return
        if over_limit:
            response["status"] = "incomplete"
            response["incomplete_details"] = {"reason": "max_output_tokens"}
            return
        output = [_output_item(entry) for entry in decision["outputs"]]
        response["output"] = output
        response["status"] = "completed"
        if conversation is not None:
            conversation["items"].extend(copy.deepcopy(output))

    def _response_usage(self, response: dict, history: list[dict], outputs: list[dict]) -> tuple[dict, bool]:
        """The usage of a response (scripted, or estimated with prompt caching and reasoning), and
        whether its output tokens exceed `max_output_tokens` (an estimate is then capped at the limit).
        """
        prompt = _prompt_text(response["instructions"], response["tools"], history)
        cached_tokens, written_tokens = self._cache_prompt((response["model"], response["prompt_cache_key"]), prompt)
        limit = response["max_output_tokens"]
        if self.usage_overrides:
            usage = _scripted_usage(self.usage_overrides.pop(0))
            return usage, limit is not None and usage["output_tokens"] > limit
        input_tokens = max(1, len(prompt) // CHARS_PER_TOKEN)
        reasoning_tokens = REASONING_TOKENS.get(response["reasoning"]["effort"] or "none", 0)
        produced = sum(len(entry.get("text") or entry.get("arguments") or "") for entry in outputs)
        output_tokens = 1 + produced // CHARS_PER_TOKEN + reasoning_tokens
        over_limit = limit is not None and output_tokens > limit
        if over_limit:  # the model stops at the limit
            output_tokens, reasoning_tokens = limit, min(reasoning_tokens, limit)
        usage = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": written_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        }
        return usage, over_limit

    def _cache_prompt(self, bucket: tuple[str, str | None], prompt: str) -> tuple[int, int]:
        """Remember `prompt` in `bucket`; return its (cached, newly written) tokens, in whole blocks.

        Each 128-token block is keyed by a hash chained over the blocks before it, so a block
        matches only if the whole prompt up to its end was seen before in the bucket. Only
        prompts of 1,024 tokens or more are cached.
        """
        seen = self._prompt_cache.setdefault(bucket, set())
        block = CACHE_BLOCK_TOKENS * CHARS_PER_TOKEN
        digest, blocks, hits, matching = b"", 0, 0, True
        for start in range(0, len(prompt) - block + 1, block):
            digest = hashlib.sha256(digest + prompt[start : start + block].encode()).digest()
            matching = matching and digest in seen
            hits += matching
            blocks += 1
            seen.add(digest)
        if blocks * CACHE_BLOCK_TOKENS < CACHE_MIN_TOKENS:
            return 0, 0
        cached = hits * CACHE_BLOCK_TOKENS if hits * CACHE_BLOCK_TOKENS >= CACHE_MIN_TOKENS else 0
        return cached, blocks * CACHE_BLOCK_TOKENS - cached

    # --- models and assistants ------------------------------------------------------------

    def _model_gone(self, model_id: str) -> bool:
        return self.models.get(model_id, {}).get("exists", True) is False

    def _get_model(self, model_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if self._model_gone(model_id):
            return _model_not_found(model_id)
        fields = {key: value for key, value in self.models.get(model_id, {}).items() if key != "exists"}
        model = {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}
        return 200, {**model, "shutdown_date": None, **copy.deepcopy(fields)}

    def _create_transcription(self, *, body: dict, query: dict) -> tuple[int, dict]:
        if not body.get("model"):
            return _error(400, "Missing required parameter: 'model'.", param="model")
        if not isinstance(body.get("file"), dict):
            return _error(400, "Missing required parameter: 'file'.", param="file")
        if self._model_gone(body["model"]):
            return _model_not_found(body["model"])
        size = len(body["file"]["data"])
        entry = self._transcripts.popleft() if self._transcripts else f"(audio de {size} bytes)"
        text = entry["text"] if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and "usage" in entry:
            return 200, {"text": text, "usage": copy.deepcopy(entry["usage"])}
        input_tokens, output_tokens = 1 + size // 1000, 1 + len(text) // CHARS_PER_TOKEN
        usage = {"type": "tokens", "input_tokens": input_tokens, "output_tokens": output_tokens}
        return 200, {"text": text, "usage": {**usage, "total_tokens": input_tokens + output_tokens}}

    def _get_assistant(self, assistant_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if not assistant_id.startswith("asst_"):
            return _not_found("Assistant", assistant_id)
        return 200, _assistant(assistant_id)

    def _create_thread(self, *, body: dict, query: dict) -> tuple[int, dict]:
        thread_id = _new_id("thread")
        self.threads[thread_id] = {"id": thread_id, "created_at": int(time.time()), "messages": []}
        for raw in body.get("messages") or []:
            self._add_thread_message(thread_id, raw.get("role", "user"), _content_text(raw.get("content")))
        return 200, _thread(self.threads[thread_id])

    def _get_thread(self, thread_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if thread_id not in self.threads:
            return _not_found("Thread", thread_id)
        return 200, _thread(self.threads[thread_id])

    def _delete_thread(self, thread_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if self.threads.pop(thread_id, None) is None:
            return _not_found("Thread", thread_id)
        return 200, {"id": thread_id, "object": "thread.deleted", "deleted": True}

    def _create_message(self, thread_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if thread_id not in self.threads:
            return _not_found("Thread", thread_id)
        active = self._active_run(thread_id)
        if active:
            return _error(400, f"Can't add messages to {thread_id} while a run {active} is active.")
        return 200, self._add_thread_message(thread_id, body.get("role", "user"), _content_text(body.get("content")))

    def _list_messages(self, thread_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if thread_id not in self.threads:
            return _not_found("Thread", thread_id)
        messages = self.threads[thread_id]["messages"]
        if query.get("run_id"):
            messages = [m for m in messages if m["run_id"] == query["run_id"]]
        return 200, _paginate(messages, query, default_order="desc")

    def _create_run(self, thread_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        if thread_id not in self.threads:
            return _not_found("Thread", thread_id)
        assistant_id = body.get("assistant_id") or ""
        if not assistant_id.startswith("asst_"):
            return _not_found("Assistant", assistant_id)
        active = self._active_run(thread_id)
        if active:
            return _error(400, f"Thread {thread_id} already has an active run {active}.")
        run_id = _new_id("run")
        self.runs[run_id] = {
            "id": run_id,
            "object": "thread.run",
            "created_at": int(time.time()),
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "status": "queued",
            "required_action": None,
            "last_error": None,
            "incomplete_details": None,
            "model": "gpt-fake",
            "instructions": "",
            "tools": [],
            "parallel_tool_calls": True,
            "metadata": {},
            "usage": None,
            "started_at": None,
            "completed_at": None,
            "cancelled_at": None,
            "failed_at": None,
            "expires_at": None,
        }
        self._run_meta[run_id] = {"retrieves": 0, "items": []}
        return 200, copy.deepcopy(self.runs[run_id])

    def _get_run(self, thread_id: str, run_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        run = self.runs.get(run_id)
        if thread_id not in self.threads or run is None or run["thread_id"] != thread_id:
            return _not_found("Run", run_id)
        if run["status"] in ("queued", "in_progress"):
            meta = self._run_meta[run_id]
            meta["retrieves"] += 1
            run["status"] = "in_progress"
            run["started_at"] = run["started_at"] or int(time.time())
            if meta["retrieves"] >= self.run_retrieves_per_step:
                self._step_run(run_id)
        return 200, copy.deepcopy(run)

    def _submit_tool_outputs(self, thread_id: str, run_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        run = self.runs.get(run_id)
        if thread_id not in self.threads or run is None or run["thread_id"] != thread_id:
            return _not_found("Run", run_id)
        if run["status"] != "requires_action":
            return _error(400, f"Runs in status {run['status']} do not accept tool outputs.")
        expected = {call["id"] for call in run["required_action"]["submit_tool_outputs"]["tool_calls"]}
        given = {output.get("tool_call_id") for output in body.get("tool_outputs") or []}
        if given != expected:
            return _error(400, f"Expected tool outputs for call_ids {sorted(expected)}, got {sorted(given)}.")
        meta = self._run_meta[run_id]
        for output in body["tool_outputs"]:
            meta["items"].append(
                {"kind": "function_call_output", "call_id": output["tool_call_id"], "output": output.get("output", "")}
            )
        run["status"] = "queued"
        run["required_action"] = None
        meta["retrieves"] = 0
        return 200, copy.deepcopy(run)

    def _cancel_run(self, thread_id: str, run_id: str, *, body: dict, query: dict) -> tuple[int, dict]:
        run = self.runs.get(run_id)
        if thread_id not in self.threads or run is None or run["thread_id"] != thread_id:
            return _not_found("Run", run_id)
        if run["status"] not in ACTIVE_RUN_STATUSES:
            return _error(400, f"Cannot cancel run with status '{run['status']}'.")
        run["status"] = "cancelled"
        run["cancelled_at"] = int(time.time())
        run["required_action"] = None
        return 200, copy.deepcopy(run)

    def _active_run(self, thread_id: str) -> str | None:
        for run in self.runs.values():
            if run["thread_id"] == thread_id and run["status"] in ACTIVE_RUN_STATUSES:
                return run["id"]
        return None

    def _add_thread_message(self, thread_id: str, role: str, text: str, run_id: str | None = None) -> dict:
        thread_message = {
            "id": _new_id("msg"),
            "object": "thread.message",
            "created_at": int(time.time()),
            "thread_id": thread_id,
            "role": role,
            "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
            "assistant_id": "asst_fake" if role == "assistant" else None,
            "run_id": run_id,
            "attachments": [],
            "metadata": {},
            "status": "completed",
        }
        self.threads[thread_id]["messages"].append(thread_message)
        return copy.deepcopy(thread_message)

    def _step_run(self, run_id: str) -> None:
        """Let the model take one step of the run: call tools, answer, or fail."""
        run = self.runs[run_id]
        meta = self._run_meta[run_id]
        thread = self.threads.get(run["thread_id"])
        history = [
            {"kind": "message", "role": m["role"], "text": m["content"][0]["text"]["value"]}
            for m in (thread["messages"] if thread else [])
        ] + meta["items"]
        decision = self._decide(history, tools_on=True)
        usage = _usage(history, "", decision.get("outputs", []))
        run["usage"] = {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["total_tokens"],
        }
        if "status" in decision:
            run["status"] = decision["status"]
            run["last_error"] = decision.get("error")
            run["incomplete_details"] = decision.get("incomplete_details")
            run["failed_at"] = int(time.time())
            return
        calls = [entry for entry in decision["outputs"] if entry["type"] == "function_call"]
        if calls:
            tool_calls = []
            for call in calls:
                call_id = call.get("call_id") or _new_id("call")
                tool_calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                )
                meta["items"].append({**call, "kind": "function_call", "call_id": call_id})
            run["status"] = "requires_action"
            run["required_action"] = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": tool_calls}}
            return
        text = "".join(entry["text"] for entry in decision["outputs"] if entry["type"] == "message")
        self._add_thread_message(run["thread_id"], "assistant", text, run_id=run_id)
        run["status"] = "completed"
        run["completed_at"] = int(time.time())

    # --- the model ------------------------------------------------------------------------

    def _decide(self, history: list[dict], *, tools_on: bool) -> dict:
        """Return the next model step: {"outputs": [...]} or a failure {"status": ...}."""
        if self._script:
            return _scripted(self._script.popleft())
        return {"outputs": _default_model(history, tools_on=tools_on)}


# --- the default model ----------------------------------------------------------------------

_LEVELS = {
    "principiante": "principiante",
    "principiantes": "principiante",
    "basico": "principiante",
    "inicial": "principiante",
    "intermedio": "intermedio",
    "intermedia": "intermedio",
    "avanzado": "avanzado",
    "avanzada": "avanzado",
}
_TOPICS = (
    "inteligencia artificial",
    "machine learning",
    "deep learning",
    "ia generativa",
    "python",
    "prompt",
    "marketing",
    "datos",
    "chatbots",
    "agentes",
    "llms",
    "mlops",
    "vision",
    "etica",
    "automatizacion",
)
_FILLER = {"para", "nivel", "que", "me", "un", "una", "el", "la", "los", "las", "y", "con", "mi", "algo"}
_NAME = re.compile(r"\b(?:me llamo|mi nombre es)\s+([A-Za-zÁÉÍÓÚÑáéíóúñü]+)", re.IGNORECASE)


def _default_model(history: list[dict], *, tools_on: bool) -> list[dict]:
    if history and history[-1]["kind"] == "function_call_output":
        return [message(_answer_from_tool_outputs(history))]
    user_texts = [entry["text"] for entry in history if entry["kind"] == "message" and entry["role"] == "user"]
    latest = _latest_user_texts(history)
    if tools_on and latest:
        arguments = _course_query(latest[-1])
        if arguments is not None:
            return [function_call("buscar_curso", arguments)]
    reply = "Hola, soy Brenda."
    names = [match.group(1) for text in user_texts for match in _NAME.finditer(text)]
    if names:
        reply += f" Te llamas {names[-1]}."
    summary = " / ".join(latest)
    if len(summary) > 160:
        summary = summary[:157] + "..."
    return [message(f"{reply} Me escribiste: «{summary}».")]


def _latest_user_texts(history: list[dict]) -> list[str]:
    """The user messages since the assistant last spoke."""
    texts: list[str] = []
    for entry in reversed(history):
        if entry["kind"] == "message" and entry["role"] == "assistant":
            break
        if entry["kind"] == "message" and entry["role"] == "user":
            texts.insert(0, entry["text"])
    return texts


def _course_query(text: str) -> dict | None:
    """Arguments for buscar_curso if `text` asks about courses, a topic or a level; else None."""
    folded = _fold(text)
    words = re.findall(r"[a-z0-9+#]+", folded)
    level = next((_LEVELS[word] for word in words if word in _LEVELS), None)
    topic = next((topic for topic in _TOPICS if re.search(rf"\b{topic}\b", folded)), None)
    if topic is None:
        match = re.search(r"\bcursos? (?:de|sobre|en) ([a-z0-9+# ]+)", folded)
        if match:
            phrase = [w for w in match.group(1).split() if w not in _LEVELS and w not in _FILLER][:3]
            topic = " ".join(phrase) or None
    if level is None and topic is None and not re.search(r"\bcursos?\b", folded):
        return None
    arguments = {}
    if topic:
        arguments["name"] = topic
    if level:
        arguments["level"] = level
    return arguments


def _answer_from_tool_outputs(history: list[dict]) -> str:
    outputs = []
    for entry in reversed(history):
        if entry["kind"] != "function_call_output":
            break
        outputs.insert(0, entry["output"])
    for output in outputs:
        try:
            data = json.loads(output)
        except (TypeError, ValueError):
            continue
        if isinstance(data, dict) and data.get("results"):
            course = data["results"][0]
            return (
                f"¡Claro! Te recomiendo «{course.get('name')}» ({course.get('level')}, "
                f"{course.get('price')} {course.get('currency')}). ¿Quieres inscribirte o hablar con un asesor?"
            )
        if isinstance(data, dict) and data.get("name"):
            return f"«{data['name']}» dura {data.get('duration_hours')} horas. ¿Te gustaría inscribirte?"
        if isinstance(data, dict) and data.get("error"):
            return f"No pude consultar el catálogo ({data['error']}). ¿Me das más detalles de lo que buscas?"
    return "No encontré cursos con esos datos. ¿Qué tema o nivel te interesa?"


def _scripted(entry: Any) -> dict:
    if isinstance(entry, str):
        return {"outputs": [message(entry)]}
    if isinstance(entry, dict) and "status" in entry:
        return copy.deepcopy(entry)
    entries = entry if isinstance(entry, list) else [entry]
    return {"outputs": copy.deepcopy(entries)}


# --- shapes ---------------------------------------------------------------------------------


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _bearer(headers: dict[str, str]) -> bool:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    return value.startswith("Bearer ") and len(value) > len("Bearer ")


def _error(
    status: int, text: str, type_: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> tuple[int, dict]:
    return status, {"error": {"message": text, "type": type_, "param": param, "code": code}}


def _not_found(kind: str, object_id: str) -> tuple[int, dict]:
    return _error(404, f"{kind} with id '{object_id}' not found.", code="not_found")


def _model_not_found(model_id: str) -> tuple[int, dict]:
    return _error(
        404, f"The model `{model_id}` does not exist or you do not have access to it.", code="model_not_found"
    )


def _parse_body(raw: bytes, content_type: str | None) -> Any:
    """A request body: JSON, or a multipart form as {name: str, or {filename, content_type, data}}."""
    if not raw:
        return None
    if not (content_type or "").startswith("multipart/form-data"):
        return json.loads(raw)
    boundary = re.search(r'boundary="?([^";]+)', content_type or "").group(1).encode()
    form: dict[str, Any] = {}
    for part in raw.split(b"--" + boundary)[1:-1]:
        head, _, data = part.removeprefix(b"\r\n").removesuffix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'\bname="([^"]*)"', head).group(1).decode()
        filename = re.search(rb'filename="([^"]*)"', head)
        part_type = re.search(rb"(?i)content-type:\s*([^\r\n]+)", head)
        form[name] = (
            data.decode()
            if filename is None
            else {
                "filename": filename.group(1).decode(),
                "content_type": part_type.group(1).decode() if part_type else None,
                "data": data,
            }
        )
    return form


def _default_error_body(status: int) -> dict:
    if status == 429:
        return _error(429, "Rate limit reached (fake).", "requests", "rate_limit_exceeded")[1]
    if status >= 500:
        return _error(status, "The server had an error while processing your request (fake).", "server_error")[1]
    if status == 404:
        return _error(404, "Not found (fake).", code="not_found")[1]
    if status == 401:
        return _error(401, "Incorrect API key provided: sk-te**st.", code="invalid_api_key")[1]
    return _error(status, f"Request failed with status {status} (fake).")[1]


def _response_headers(status: int) -> dict[str, str]:
    headers = {"x-request-id": f"req_{uuid.uuid4().hex[:16]}"}
    if status in RETRYABLE or status >= 500:
        headers["retry-after-ms"] = "10"
    return headers


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                parts.append(text.get("value", "") if isinstance(text, dict) else str(text or ""))
        return "".join(parts)
    return ""


def _input_item(raw: Any) -> dict:
    """Store a request's input item in the shape the API returns for conversation items."""
    if isinstance(raw, str):
        raw = {"role": "user", "content": raw}
    kind = raw.get("type") or "message"
    if kind == "function_call_output":
        return {
            "type": "function_call_output",
            "id": _new_id("fco"),
            "call_id": raw.get("call_id"),
            "output": raw.get("output") if isinstance(raw.get("output"), str) else json.dumps(raw.get("output")),
            "status": "completed",
        }
    if kind == "function_call":
        return {**raw, "id": raw.get("id") or _new_id("fc"), "status": "completed"}
    role = raw.get("role", "user")
    part_type = "output_text" if role == "assistant" else "input_text"
    return {
        "type": "message",
        "id": _new_id("msg"),
        "status": "completed",
        "role": role,
        "content": [{"type": part_type, "text": _content_text(raw.get("content"))}],
    }


def _output_item(entry: dict) -> dict:
    if entry["type"] == "function_call":
        return {
            "type": "function_call",
            "id": _new_id("fc"),
            "call_id": entry.get("call_id") or _new_id("call"),
            "name": entry["name"],
            "arguments": entry["arguments"],
            "status": "completed",
        }
    return {
        "type": "message",
        "id": _new_id("msg"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": entry["text"], "annotations": []}],
    }


def _history_entry(item: dict) -> dict:
    if item["type"] == "function_call":
        return {
            "kind": "function_call",
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": item["arguments"],
        }
    if item["type"] == "function_call_output":
        return {"kind": "function_call_output", "call_id": item["call_id"], "output": item["output"]}
    return {"kind": "message", "role": item["role"], "text": _content_text(item["content"])}


def _open_calls(items: list[dict]) -> set[str]:
    calls = {item["call_id"] for item in items if item["type"] == "function_call"}
    answered = {item["call_id"] for item in items if item["type"] == "function_call_output"}
    return calls - answered


def _prompt_text(instructions: str | None, tools: list, history: list[dict]) -> str:
    """The prompt the model reads, in order: instructions, tools, conversation items (deterministic)."""
    parts = [instructions or "", json.dumps(tools, ensure_ascii=False)]
    parts += [json.dumps(entry, ensure_ascii=False) for entry in history]
    return "\n".join(parts)


def _scripted_usage(usage: dict) -> dict:
    """A scripted usage, verbatim, with the missing details (0) and total_tokens filled in."""
    usage = copy.deepcopy(usage)
    usage.setdefault("input_tokens", 0)
    usage.setdefault("output_tokens", 0)
    usage["input_tokens_details"] = {
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        **(usage.get("input_tokens_details") or {}),
    }
    usage["output_tokens_details"] = {"reasoning_tokens": 0, **(usage.get("output_tokens_details") or {})}
    usage.setdefault("total_tokens", usage["input_tokens"] + usage["output_tokens"])
    return usage


def _usage(history: list[dict], instructions: str | None, outputs: list[dict]) -> dict:
    """The usage of an Assistants run step (no caching or reasoning)."""
    seen = sum(len(str(entry.get("text") or entry.get("output") or entry.get("arguments") or "")) for entry in history)
    produced = sum(len(entry.get("text") or entry.get("arguments") or "") for entry in outputs)
    input_tokens = 10 + (seen + len(instructions or "")) // 4
    output_tokens = 1 + produced // 4
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _list_page(data: list[dict]) -> dict:
    data = copy.deepcopy(data)
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": False,
    }


def _paginate(items: list[dict], query: dict, *, default_order: str) -> dict:
    ordered = list(reversed(items)) if query.get("order", default_order) == "desc" else list(items)
    after = query.get("after")
    if after:
        ids = [item["id"] for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    limit = int(query.get("limit") or 20)
    page = _list_page(ordered[:limit])
    page["has_more"] = len(ordered) > limit
    return page


def _thread(thread: dict) -> dict:
    return {
        "id": thread["id"],
        "object": "thread",
        "created_at": thread["created_at"],
        "metadata": {},
        "tool_resources": None,
    }


def _assistant(assistant_id: str) -> dict:
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": 1700000000,
        "name": "Brenda (fake)",
        "description": None,
        "model": "gpt-fake",
        "instructions": "",
        "tools": [],
        "metadata": {},
    }


_ROUTES = [
    (re.compile(pattern), method, action)
    for pattern, method, action in (
        (r"/conversations", "POST", FakeOpenAI._create_conversation),
        (r"/conversations/([^/]+)", "GET", FakeOpenAI._get_conversation),
        (r"/conversations/([^/]+)", "DELETE", FakeOpenAI._delete_conversation),
        (r"/conversations/([^/]+)/items", "POST", FakeOpenAI._create_items),
        (r"/conversations/([^/]+)/items", "GET", FakeOpenAI._list_items),
        (r"/responses", "POST", FakeOpenAI._create_response),
        (r"/responses/([^/]+)", "GET", FakeOpenAI._get_response),
        (r"/responses/([^/]+)/cancel", "POST", FakeOpenAI._cancel_response),
        (r"/models/([^/]+)", "GET", FakeOpenAI._get_model),
        (r"/audio/transcriptions", "POST", FakeOpenAI._create_transcription),
        (r"/assistants/([^/]+)", "GET", FakeOpenAI._get_assistant),
        (r"/threads", "POST", FakeOpenAI._create_thread),
        (r"/threads/([^/]+)", "GET", FakeOpenAI._get_thread),
        (r"/threads/([^/]+)", "DELETE", FakeOpenAI._delete_thread),
        (r"/threads/([^/]+)/messages", "POST", FakeOpenAI._create_message),
        (r"/threads/([^/]+)/messages", "GET", FakeOpenAI._list_messages),
        (r"/threads/([^/]+)/runs", "POST", FakeOpenAI._create_run),
        (r"/threads/([^/]+)/runs/([^/]+)", "GET", FakeOpenAI._get_run),
        (r"/threads/([^/]+)/runs/([^/]+)/submit_tool_outputs", "POST", FakeOpenAI._submit_tool_outputs),
        (r"/threads/([^/]+)/runs/([^/]+)/cancel", "POST", FakeOpenAI._cancel_run),
    )
]
