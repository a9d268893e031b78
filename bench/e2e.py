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
Each worker answers one warm-up message before the clock runs (its first turn is slower, once), and
table 3b breaks the synchronous turns down: queue, OpenAI (timed at the fake), our own time, and
the worker's gaps between tasks.
"""

import argparse
import contextlib
import heapq
import itertools
import logging
import statistics
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
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
            self.timings: list[RequestTiming] = []  # every request's wall-clock span, for the breakdown

        def reset_requests(self) -> None:
            super().reset_requests()
            with self._due_lock:
                self.timings.clear()

        def handle(self, method, path, json_body=None, *, headers=None, timeout=None):
            creates = method.upper() == "POST" and urlsplit(path).path.rstrip("/").endswith("/responses")
            background = creates and isinstance(json_body, dict) and bool(json_body.get("background"))
            started = time.time()
            if creates and not background and self.model_s:
                time.sleep(self.model_s)  # the model thinks while the request is open
            status, payload = super().handle(method, path, json_body, headers=headers, timeout=timeout)
            timing = RequestTiming(_conversation_of(json_body, payload), started, time.time())
            with self._due_lock:
                self.timings.append(timing)
                if background and status == 200:
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


@dataclass(frozen=True)
class RequestTiming:
    """One request to the fake: the conversation it was about (the turn's `thread_id`) and its wall-clock span."""

    conversation: str
    started: float  # time.time(), comparable with the database's timestamps (same machine)
    finished: float


def _conversation_of(body, payload) -> str:
    """The conversation a request belongs to: named in its body, or the one it created or answered about."""
    for source in (body, payload):
        if isinstance(source, dict):
            conversation = source.get("conversation")
            if isinstance(conversation, dict):
                conversation = conversation.get("id")
            if isinstance(conversation, str) and conversation:
                return conversation
    if isinstance(payload, dict) and payload.get("object") == "conversation":
        return str(payload.get("id") or "")
    return ""


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
                    cold_own_s = _warm_up(stack, fake, mode=mode, workers=workers, first_user=first_user, args=args)
                    first_user += workers
                    before = Counter(player.statuses) if player else Counter()
                    result = _measure(
                        stack, fake, mode=mode, workers=workers, messages=messages, first_user=first_user, args=args
                    )
                    if player:
                        result["openai_webhooks"] = {str(k): v for k, v in (player.statuses - before).items()}
                        result["openai_webhook_errors"] = dict(player.errors)
                    result["warm_up_own_max_s"] = cold_own_s
                    runs.append(result)
                    first_user += messages
            finally:
                if player:
                    player.__exit__(None, None, None)
                stack.stop_workers()
    finally:
        fake.stop()
    return _report(runs, args)


def _warm_up(stack: BenchStack, fake, *, mode: str, workers: int, first_user: int, args) -> float | None:
    """Have every worker answer one message before the clock runs; return the slowest warm-up turn's own time.

    A fresh `db_worker` pays once for what a long-lived one never pays again (the OpenAI client, its
    lazily imported resources, the first parse of each response type: a few hundred ms). The
    table measures the steady state, like the ack bench's warm-up; this first turn is reported apart.
    One message per worker, all at once: each idle worker, polling every 50 ms, takes one of them.
    """
    say(f"e2e: {mode}, warming up {workers} worker(s)")
    _send_new_users(stack, fake, count=workers, first_user=first_user, connections=workers)
    worker_s = _theory_worker_s(mode, requests_per_turn=2 + (mode == "background"), args=args)
    try:
        wait_until(lambda: _answered(stack) >= workers, timeout_s=20 + 3 * worker_s, what="the warm-up replies")
    except TimeoutError:
        say("e2e: warm-up timed out; measuring anyway")
    _settle(stack)
    breakdown, _tasks = _breakdown(stack, fake, first_in={}, first_out={})
    own = breakdown["own"]
    return own["max"] if own["n"] else None


def _settle(stack: BenchStack, timeout_s: float = 10.0) -> None:
    """Wait until no turn is open and no task runs (a reply is stored just before its turn closes)."""
    with contextlib.suppress(TimeoutError):
        wait_until(
            lambda: (
                not stack.db.scalar(
                    "SELECT (SELECT count(*) FROM brenda_turns WHERE finished_at IS NULL)"
                    " + (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING')"
                )
            ),
            timeout_s=timeout_s,
            what="open turns and running tasks to finish",
        )


def _measure(stack: BenchStack, fake, *, mode: str, workers: int, messages: int, first_user: int, args) -> dict:
    say(f"e2e: {mode}, {workers} worker(s), {messages} messages")
    sent = _send_new_users(stack, fake, count=messages, first_user=first_user, connections=min(messages, 8))
    worker_s = _theory_worker_s(mode, requests_per_turn=2 + (mode == "background"), args=args)
    timeout_s = 20 + 3 * messages * worker_s / workers
    try:
        wait_until(lambda: _answered(stack) >= messages, timeout_s=timeout_s, what="every reply", interval_s=POLL_S)
        timed_out = False
    except TimeoutError:
        timed_out = True
    _settle(stack)  # the last turn closes and its task finishes just after its reply: wait for them
    return _collect(
        stack, fake, mode=mode, workers=workers, messages=messages, acked=sent.ok, timed_out=timed_out, args=args
    )


def _send_new_users(stack: BenchStack, fake, *, count: int, first_user: int, connections: int):
    """Start from empty tables and send one signed message from each of `count` new users."""
    stack.db.truncate_run_tables()
    fake.reset_requests()
    requests = loadgen.twilio_requests(
        public_base_url=stack.public_base_url,
        auth_token=TWILIO_TOKEN,
        count=count,
        users=count,
        text=TEXT,
        first_user=first_user,
    )
    return loadgen.send_all(requests, host=HOST, port=stack.port, connections=connections)


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
    breakdown, tasks = _breakdown(stack, fake, first_in=first_in, first_out=first_out)
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
        "breakdown_s": breakdown,
        "tasks": tasks,
    }


# Where a turn's time goes, in the order it is spent (see `_breakdown`).
PHASES = (
    ("queue", "message stored -> task started (queue, worker polling)"),
    ("pre", "task started -> Turn.started_at (lease, claim, turn record)"),
    ("openai", "OpenAI requests, timed at the fake (latency + model)"),
    ("own_before", "turn start -> first request (ours: DB, Python)"),
    ("own_between", "between requests (ours)"),
    ("own_after", "last request -> Turn.finished_at (ours: reply, delivery)"),
    ("own", "Turn.latency_ms - OpenAI (ours in the turn: the three above)"),
    ("reply", "Turn.finished_at -> reply stored (negative: stored before the turn closed)"),
    ("post", "Turn.finished_at -> task finished"),
    ("gap", "task finished -> the same worker's next task started"),
)


def _breakdown(stack: BenchStack, fake, *, first_in: dict, first_out: dict) -> tuple[dict, dict]:
    """Per completed turn, seconds in each of PHASES; and the tasks the workers ran (count, seconds)."""
    timings = defaultdict(list)
    with fake._due_lock:
        for timing in fake.timings:
            timings[timing.conversation].append(timing)
    task_rows = stack.db.rows(
        "SELECT task_path, status, args_kwargs, worker_ids, enqueued_at, started_at, finished_at "
        "FROM django_tasks_database_dbtaskresult"
    )
    tasks: dict[str, dict] = {}
    task_of_user, by_worker = {}, defaultdict(list)
    for path, _status, args_kwargs, worker_ids, _enqueued, started, finished in task_rows:
        name = path.rsplit(".", 1)[-1]
        entry = tasks.setdefault(name, {"count": 0, "ran": 0, "seconds": 0.0})
        entry["count"] += 1
        if started and finished:
            entry["ran"] += 1
            entry["seconds"] += (finished - started).total_seconds()
            by_worker[(worker_ids or [""])[-1]].append((started, finished))
        args = (args_kwargs or {}).get("args") or []
        if name == "process_user_messages_task" and args and started:
            task_of_user.setdefault(args[0], (started, finished))
    gaps = []
    for spans in by_worker.values():
        spans.sort()
        gaps.extend((b[0] - a[1]).total_seconds() for a, b in itertools.pairwise(spans))
    phases: dict[str, list[float]] = {name: [] for name, _ in PHASES}
    phases["gap"] = gaps
    rows = stack.db.rows(
        "SELECT user_phone, thread_id, started_at, finished_at, latency_ms FROM brenda_turns "
        "WHERE status = 'completed' AND finished_at IS NOT NULL ORDER BY started_at"
    )
    for phone, thread_id, started, finished, latency_ms in rows:
        spans = sorted(timings.get(thread_id, []), key=lambda t: t.started)
        openai_s = sum(t.finished - t.started for t in spans)
        phases["openai"].append(openai_s)
        if latency_ms is not None:
            phases["own"].append(latency_ms / 1000 - openai_s)
        if spans:
            phases["own_before"].append(spans[0].started - started.timestamp())
            phases["own_between"].append(sum(b.started - a.finished for a, b in itertools.pairwise(spans)))
            phases["own_after"].append(finished.timestamp() - spans[-1].finished)
        task = task_of_user.get(phone)
        if phone in first_in and task:
            phases["queue"].append((task[0] - first_in[phone]).total_seconds())
            phases["pre"].append((started - task[0]).total_seconds())
            if task[1]:
                phases["post"].append((task[1] - finished).total_seconds())
        if phone in first_out:
            phases["reply"].append((first_out[phone] - finished).total_seconds())
    summary = {
        name: {
            "mean": statistics.mean(values) if values else None,
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "max": max(values) if values else None,
            "n": len(values),
        }
        for name, values in phases.items()
    }
    return summary, tasks


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
    _report_breakdown([run for run in runs if run["mode"] == "sync"])
    return {"latency_s": args.latency, "model_s": args.model_s, "runs": runs}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


TARGET_RATIO = 0.9  # issue 9: end to end, synchronous, >= 0.9 x N / L


def _report_breakdown(runs: list[dict]) -> None:
    """Table 3b: where a synchronous turn's time goes, per N, beside the issue's target."""
    if not runs:
        return
    table = []
    for run in runs:
        for name, what in PHASES:
            stats = run["breakdown_s"].get(name) or {}
            ms = {key: None if stats.get(key) is None else stats[key] * 1000 for key in ("mean", "p50", "p95")}
            table.append([run["workers"], name, fmt(ms["mean"], 0), fmt(ms["p50"], 0), fmt(ms["p95"], 0), what])
    notes = []
    for run in runs:
        value = run["ratio_to_theory"]
        met = "-" if value is None else ("met" if value >= TARGET_RATIO else "NOT met")
        tasks = ", ".join(
            f"{name} {entry['ran']}/{entry['count']} ran {entry['seconds']:.2f} s"
            for name, entry in sorted(run["tasks"].items())
        )
        notes.append(
            f"N={run['workers']}: ratio = msg/s / (N / L) = {fmt(run['messages_per_s'], 3)} / "
            f"({run['workers']} / {fmt(run['worker_s_per_turn_theory'], 2)} s) = {fmt(value, 3)}, "
            f"target >= {TARGET_RATIO:g}: {met}; tasks: {tasks or '-'}"
        )
        notes.append(
            f"N={run['workers']}: warm-up (not timed), slowest first turn of a worker: own"
            f" {fmt(_ms(run.get('warm_up_own_max_s')), 0)} ms"
        )
    print_table(
        "3b. Synchronous turn breakdown (ms per turn; L = req/turn x latency + model time)",
        ["N", "phase", "mean", "p50", "p95", "what"],
        table,
        align="rlrrrl",
        notes=[
            *notes,
            "openai: the sum of the fake's request durations for the turn's conversation (conversations.create"
            " included); own = Turn.latency_ms - openai",
            "a worker's cycle per turn = pre + turn + post + gap; the burst's elapsed ~ queue of the first +"
            " M/N cycles, so ratio ~ L / cycle",
            "tasks: ran/enqueued and their summed run time (recover_turn_task is due TURN_LEASE_S + 1 s after"
            " its turn, so normally none runs in a bench run)",
        ],
    )
