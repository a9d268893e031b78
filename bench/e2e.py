"""Bench 3: messages answered per second, end to end, by 1, 2 and 4 `db_worker` processes.

M users each send one message through the signed Twilio webhook (gunicorn, TASKS_BACKEND=database);
`db_worker` processes run the turns against the fake OpenAI served on 127.0.0.1; the clock stops
when every user has a stored reply. Both turn modes run:

- synchronous: the worker waits for each response;
- background (`OPENAI_BACKGROUND=true`): the worker starts a background response and moves on;
  the bench plays OpenAI's part by finishing each response after the model's time and POSTing
  a signed `response.completed` event (Standard Webhooks) to gunicorn's `/webhooks/openai`,
  which enqueues the turn's continuation for a worker.

The fake answers every request after `latency` seconds, and its model works `model_s` per
response: inside the request when synchronous, after it in background mode. So a worker is busy
for `requests per turn x latency` (+ `model_s` per synchronous response) per turn, and N workers
cannot answer more than N divided by that per second: the theory the measurement is printed next to.
"""

import argparse
import heapq
import logging
import statistics
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

from . import loadgen
from .calls import endpoint_name
from .common import fmt, percentile, print_table, ratio, say, wait_until
from .stack import HOST, OPENAI_WEBHOOK_SECRET, TWILIO_TOKEN, BenchStack

logger = logging.getLogger(__name__)

TEXT = "Hola, me llamo Ana"  # no course words: one model step, no tool round
MODES = ("sync", "background")
POLL_S = 0.05


def timed_fake(*, latency_s: float, model_s: float):
    """Build the fake OpenAI with a model that takes `model_s` per response (see the module docstring)."""
    from tests.fakes.openai import FakeOpenAI

    class TimedFakeOpenAI(FakeOpenAI):
        def __init__(self) -> None:
            super().__init__(latency_s=latency_s)
            self.model_s = model_s
            self._due: list[tuple[float, str]] = []
            self._due_lock = threading.Lock()

        def handle(self, method, path, json_body=None, *, headers=None, timeout=None):
            creates = method.upper() == "POST" and urlsplit(path).path.rstrip("/").endswith("/responses")
            background = creates and isinstance(json_body, dict) and bool(json_body.get("background"))
            if creates and not background and self.model_s:
                time.sleep(self.model_s)  # the model thinks while the request is open
            status, payload = super().handle(method, path, json_body, headers=headers, timeout=timeout)
            if background and status == 200:
                with self._due_lock:
                    heapq.heappush(self._due, (time.monotonic() + self.model_s, payload["id"]))
            return status, payload

        def pop_due(self) -> list[str]:
            """Background responses whose model time is over (each returned once)."""
            now, due = time.monotonic(), []
            with self._due_lock:
                while self._due and self._due[0][0] <= now:
                    due.append(heapq.heappop(self._due)[1])
            return due

    return TimedFakeOpenAI()


class WebhookPlayer:
    """Play OpenAI's webhook sender: finish due background responses and POST their signed events."""

    def __init__(self, fake, *, port: int) -> None:
        self.fake = fake
        self.port = port
        self.statuses: Counter = Counter()
        self.errors: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openai-webhooks", daemon=True)

    def __enter__(self) -> "WebhookPlayer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        conn = loadgen._Connection(HOST, self.port)
        try:
            while not self._stop.is_set():
                for response_id in self.fake.pop_due():
                    event = self.fake.complete_background(response_id)
                    try:
                        status = conn.send(loadgen.openai_event_request(event, secret=OPENAI_WEBHOOK_SECRET))
                    except Exception as exc:
                        self.errors[type(exc).__name__] += 1
                    else:
                        self.statuses[status] += 1
                self._stop.wait(0.01)
        finally:
            conn.close()


def run(stack: BenchStack, args: argparse.Namespace) -> dict:
    per_worker = 4 if args.quick else 8
    worker_counts = (1, 2) if args.quick else (1, 2, 4)
    fake = timed_fake(latency_s=args.latency, model_s=args.model_s)
    base_url = fake.serve()
    runs: list[dict] = []
    first_user = 0
    try:
        for mode in MODES:
            env = stack.env(
                OPENAI_API_KEY="sk-bench",
                OPENAI_BASE_URL=base_url,
                OPENAI_ENGINE="responses",
                OPENAI_BACKGROUND="true" if mode == "background" else "false",
                OPENAI_RUN_TIMEOUT_S="60",
                OPENAI_MAX_RETRIES="0",
            )
            stack.db.truncate_run_tables()  # leftovers (the ack bench's queue) must not reach the workers
            player = WebhookPlayer(fake, port=stack.port) if mode == "background" else None
            try:
                if player:
                    player.__enter__()
                running = 0
                for workers in worker_counts:
                    say(f"e2e: {mode}, starting workers up to {workers}")
                    stack.start_workers(workers - running, env=env)
                    running = workers
                    messages = per_worker * workers
                    before = Counter(player.statuses) if player else Counter()
                    result = _measure(
                        stack, fake, mode=mode, workers=workers, messages=messages, first_user=first_user, args=args
                    )
                    if player:
                        result["openai_webhooks"] = {str(k): v for k, v in (player.statuses - before).items()}
                        result["openai_webhook_errors"] = dict(player.errors)
                    runs.append(result)
                    first_user += messages
            finally:
                if player:
                    player.__exit__(None, None, None)
                stack.stop_workers()
    finally:
        fake.stop()
    return _report(runs, args)


def _measure(stack: BenchStack, fake, *, mode: str, workers: int, messages: int, first_user: int, args) -> dict:
    stack.db.truncate_run_tables()
    fake.reset_requests()
    requests = loadgen.twilio_requests(
        public_base_url=stack.public_base_url,
        auth_token=TWILIO_TOKEN,
        count=messages,
        users=messages,
        text=TEXT,
        first_user=first_user,
    )
    say(f"e2e: {mode}, {workers} worker(s), {messages} messages")
    sent = loadgen.send_all(requests, host=HOST, port=stack.port, connections=min(messages, 8))
    worker_s = _theory_worker_s(mode, requests_per_turn=2 + (mode == "background"), args=args)
    timeout_s = 20 + 3 * messages * worker_s / workers
    try:
        wait_until(lambda: _answered(stack) >= messages, timeout_s=timeout_s, what="every reply", interval_s=POLL_S)
        timed_out = False
    except TimeoutError:
        timed_out = True
    return _collect(
        stack, fake, mode=mode, workers=workers, messages=messages, acked=sent.ok, timed_out=timed_out, args=args
    )


def _answered(stack: BenchStack) -> int:
    return stack.db.scalar("SELECT count(DISTINCT user_phone) FROM brenda_messages WHERE direction = 'out'")


def _theory_worker_s(mode: str, *, requests_per_turn: float, sync_creates_per_turn: float = 1, args) -> float:
    """Seconds a worker is busy per turn: every request's latency, plus the model's time when it waits for it."""
    busy = requests_per_turn * args.latency
    if mode == "sync":
        busy += sync_creates_per_turn * args.model_s
    return busy


def _collect(stack, fake, *, mode, workers, messages, acked, timed_out, args) -> dict:
    rows = stack.db.rows(
        "SELECT user_phone, direction, origin, min(created_at), max(created_at) "
        "FROM brenda_messages GROUP BY user_phone, direction, origin"
    )
    first_in, first_out, origins = {}, {}, Counter()
    for phone, direction, origin, earliest, _latest in rows:
        if direction == "in":
            first_in[phone] = earliest
        else:
            first_out[phone] = min(earliest, first_out.get(phone, earliest))
            origins[origin] += 1
    latencies = [(first_out[p] - first_in[p]).total_seconds() for p in first_out if p in first_in]
    answered = len(latencies)
    elapsed = None
    if first_in and first_out:
        elapsed = (max(first_out.values()) - min(first_in.values())).total_seconds()
    requests = fake.calls()
    endpoints = Counter(endpoint_name(r.method, r.path) for r in requests)
    sync_creates = sum(
        1
        for r in requests
        if endpoint_name(r.method, r.path) == "responses.create" and not (r.body or {}).get("background")
    )
    per_turn = len(requests) / answered if answered else None
    worker_s = (
        _theory_worker_s(mode, requests_per_turn=per_turn, sync_creates_per_turn=sync_creates / answered, args=args)
        if answered
        else None
    )
    theory = workers / worker_s if worker_s else None
    measured = answered / elapsed if elapsed else None
    turns = stack.db.rows("SELECT status, count(*) FROM brenda_turns GROUP BY status")
    turn_ms = stack.db.scalar("SELECT avg(latency_ms) FROM brenda_turns WHERE status = 'completed'")
    return {
        "mode": mode,
        "workers": workers,
        "messages": messages,
        "acked": acked,
        "answered": answered,
        "timed_out": timed_out,
        "reply_origins": dict(origins),
        "turn_statuses": dict(turns),
        "elapsed_s": elapsed,
        "messages_per_s": measured,
        "requests_per_turn": per_turn,
        "endpoints_per_turn": {name: count / answered for name, count in endpoints.items()} if answered else {},
        "worker_s_per_turn_theory": worker_s,
        "theory_messages_per_s": theory,
        "ratio_to_theory": ratio(measured, theory),
        "turn_mean_s": float(turn_ms) / 1000 if turn_ms is not None else None,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p99_s": percentile(latencies, 99),
        "latency_mean_s": statistics.mean(latencies) if latencies else None,
    }


def _report(runs: list[dict], args: argparse.Namespace) -> dict:
    table = []
    for run in runs:
        base = next((r for r in runs if r["mode"] == run["mode"] and r["workers"] == 1), None)
        fallbacks = sum(v for k, v in run["reply_origins"].items() if k != "assistant")
        answered = f"{run['answered']}/{run['messages']}" + (" TIMEOUT" if run["timed_out"] else "")
        table.append(
            [
                run["mode"],
                run["workers"],
                answered,
                fallbacks,
                fmt(run["requests_per_turn"], 2),
                fmt(run["turn_mean_s"], 2),
                fmt(run["elapsed_s"], 2),
                fmt(run["messages_per_s"], 2),
                fmt(run["theory_messages_per_s"], 2),
                fmt(run["ratio_to_theory"], 2),
                fmt(ratio(run["messages_per_s"], base["messages_per_s"] if base else None), 2),
                fmt(run["latency_p50_s"], 2),
                fmt(run["latency_p99_s"], 2),
            ]
        )
    speedups = []
    for workers in sorted({run["workers"] for run in runs}):
        pair = {run["mode"]: run for run in runs if run["workers"] == workers}
        if "sync" in pair and "background" in pair:
            value = ratio(pair["background"]["messages_per_s"], pair["sync"]["messages_per_s"])
            speedups.append(f"N={workers}: {fmt(value, 2)}")
    print_table(
        f"3. End to end: webhook -> db_worker -> fake OpenAI (latency {args.latency:g} s/request, "
        f"model {args.model_s:g} s/response) -> reply stored",
        [
            "mode",
            "N",
            "answered",
            "fallback",
            "req/turn",
            "turn s",
            "elapsed s",
            "msg/s",
            "theory",
            "ratio",
            "vs N=1",
            "p50 s",
            "p99 s",
        ],
        table,
        align="lrrrrrrrrrrrr",
        notes=[
            "theory = N / worker-seconds per turn; worker-seconds = req/turn x latency (+ model time per"
            " synchronous response); background turns leave the model's time to OpenAI and the webhook",
            "turn s: mean Turn.latency_ms (a turn's start to its end; background: includes the model and webhook)",
            "elapsed: first message stored -> last reply stored; p50/p99: per message, stored -> replied (a burst:"
            " queueing included)",
            "each user is new (conversations.create + the turn); messages enter through the signed Twilio webhook",
            "background: the bench plays OpenAI, POSTing signed response.completed events to /webhooks/openai",
            *([f"msg/s background/sync: {', '.join(speedups)}"] if speedups else []),
        ],
    )
    return {"latency_s": args.latency, "model_s": args.model_s, "runs": runs}
