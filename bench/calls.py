"""Bench 1: OpenAI HTTP requests and database queries per conversation turn, for both engines.

Runs the service end to end in this process — `record_inbound`, then
`process_user_messages(user_phone=...)`, replies to the in-memory outbox — against the fake
OpenAI served on 127.0.0.1, and counts what reached the fake's HTTP edge. The baseline is the
`assistants` engine, which is the original flow: add message, create run, poll the run until
it ends (submitting tool outputs on the way), list messages.

Counts do not depend on timing, except the Assistants polls: the fake advances a run one
model step per `polls_per_step` retrieves, which stands for how long the model thinks. With
the engine's back-off (0.25 s, 0.5 s, 1 s, 2 s, …) three polls cover a model step of up to
1.75 s. The engine's poll sleep is shrunk here so the bench does not wait for real.
"""

import contextlib
import logging
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from unittest import mock

from .common import demo_test_database, fmt, print_table, ratio, say

logger = logging.getLogger(__name__)

ENGINES = ("assistants", "responses")  # the baseline first
BASELINE = "assistants"
ASSISTANT_ID = "asst_bench"
DEFAULT_POLLS_PER_STEP = 3
# (scenario, what the user writes): each user goes through all three, in order.
SCENARIOS = (
    ("new user", "Hola, me llamo Ana"),
    ("returning user", "¿Te acuerdas de mi nombre?"),
    ("tool round", "¿Tienen cursos de python para principiantes?"),
)
# Short names for the endpoints, as the SDK calls them.
ENDPOINTS = {
    ("POST", "/conversations"): "conversations.create",
    ("POST", "/conversations/*/items"): "conversations.items.create",
    ("GET", "/conversations/*/items"): "conversations.items.list",
    ("POST", "/responses"): "responses.create",
    ("GET", "/responses/*"): "responses.retrieve",
    ("POST", "/threads"): "threads.create",
    ("POST", "/threads/*/messages"): "messages.create",
    ("GET", "/threads/*/messages"): "messages.list",
    ("POST", "/threads/*/runs"): "runs.create",
    ("GET", "/threads/*/runs/*"): "runs.retrieve",
    ("POST", "/threads/*/runs/*/submit_tool_outputs"): "runs.submit_tool_outputs",
}
_ID_SEGMENT = re.compile(r"/(conv|resp|thread|run|msg|asst)_[A-Za-z0-9]+")

# The target for a returning user's turn without tools, in queries inside process_user_messages.
QUERY_TARGET = 15
TARGET_SCENARIO = "returning user"
# The phases of a turn, in the order a turn goes through them, with their labels in table 1c.
PHASES = {
    "lease": "lease (acquire, renew, release)",
    "messages": "messages (gather + pause flag, claim, look again)",
    "turn": "turn record (start, finish)",
    "pause": "pause check",
    "budget": "budget check",
    "context": "context notes (takeover, price cut)",
    "thread": "thread mapping (read, create, messages)",
    "bookkeeping": "model call bookkeeping (mapping touch)",
    "tools": "tools (catalogue)",
    "pricecheck": "price check (catalogue read)",
    "delivery": "delivery (outbound rows, send, status)",
    "recovery": "recovery check scheduling",
    "fallback": "fallback reply",
    "other": "other",
}
# A query belongs to the phase of the innermost project function (or, failing that, module) named here
# on its call stack: `threads.message_log.record_outbound` is not named, so its INSERT counts for the
# `threads.outbound` that called it (delivery), while `pending_inbound` counts for itself.
_PHASE_OF = {
    "threads.locks": "lease",
    "threads.message_log.pending_inbound": "messages",
    "threads.message_log.gather_pending_inbound": "messages",  # the pause flag comes with the messages
    "threads.message_log.has_pending_inbound": "messages",
    "threads.message_log.claim_for_turn": "messages",
    "threads.turns": "turn",
    "threads.services.run_turn": "pause",  # its own queries: the pause look-up and holding the messages
    "threads.budgets": "budget",
    "threads.answering.context_notes": "context",
    "threads.repository.get_thread_id": "thread",
    "threads.repository.save_thread_id": "thread",
    "threads.answering.mapped_thread_id": "thread",
    "threads.answering.ensure_thread": "thread",
    "threads.answering.record_run": "bookkeeping",
    "threads.tools": "tools",
    "threads.answering.vet_prices": "pricecheck",
    "threads.answering.cut_wrong_prices": "pricecheck",
    "threads.outbound": "delivery",
    "threads.answering.schedule_recovery_check": "recovery",
    "threads.scheduling": "recovery",
    "threads.fallback": "fallback",
    "threads.answering._turn_texts": "fallback",
}
_PROJECT_PACKAGES = frozenset({"threads", "courses", "messaging"})


@dataclass
class TurnSample:
    """One measured turn."""

    engine: str
    scenario: str
    http_requests: int  # requests that reached the fake OpenAI
    db_queries: int  # queries inside process_user_messages
    recorded_calls: int  # Turn.openai_calls, the service's own accounting
    tool_calls: int
    reply_origin: str  # "assistant", or "fallback" when something went wrong
    wall_ms: float  # informative only: the fake answers instantly
    endpoints: dict[str, int] = field(default_factory=dict)
    phases: dict[str, int] = field(default_factory=dict)  # db_queries by phase of the turn (see PHASES)
    unattributed: list[str] = field(default_factory=list)  # innermost project function of each "other" query


def phase_of_caller() -> tuple[str, str]:
    """Return the phase of the turn the running query belongs to, and the innermost project function on the stack.

    Walks the Python stack outwards from the query and stops at the first function (or module)
    of ours that `_PHASE_OF` names; Django's and the standard library's frames are skipped.
    """
    frame, innermost = sys._getframe(1), ""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.partition(".")[0] in _PROJECT_PACKAGES:
            name = f"{module}.{frame.f_code.co_name}"
            innermost = innermost or name
            phase = _PHASE_OF.get(name) or _PHASE_OF.get(module)
            if phase:
                return phase, innermost
        frame = frame.f_back
    return "other", innermost or "?"


@contextlib.contextmanager
def queries_by_phase(connection) -> Iterator[list[tuple[str, str]]]:
    """Record (phase, innermost project function) for every query this connection runs in the block."""
    attributed: list[tuple[str, str]] = []

    def attribute(execute, sql, params, many, context):
        attributed.append(phase_of_caller())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(attribute):
        yield attributed


def endpoint_name(method: str, path: str) -> str:
    """Name a recorded request by its endpoint, ids removed: ('GET', '/v1/responses/resp_1') -> 'responses.retrieve'."""
    route = _ID_SEGMENT.sub("/*", re.sub(r"^/v1(?=/)", "", path))
    return ENDPOINTS.get((method, route), f"{method} {route}")


@contextlib.contextmanager
def fast_polling() -> Iterator[None]:
    """Shrink the engines' poll back-off: polls are counted, not waited for (the fake advances per poll)."""
    from threads.engines import assistants, responses

    with (
        mock.patch.object(assistants, "POLL_INITIAL_S", 0.001),
        mock.patch.object(assistants, "POLL_MAX_S", 0.001),
        mock.patch.object(responses, "POLL_INITIAL_S", 0.001),
        mock.patch.object(responses, "POLL_MAX_S", 0.001),
    ):
        yield


def measure_calls(*, repeats: int = 3, polls_per_step: int = DEFAULT_POLLS_PER_STEP) -> list[TurnSample]:
    """Run every scenario `repeats` times per engine (a new user each time) and return the samples.

    Needs Django set up on a migrated database; the demo catalogue makes the tool answer real rows.
    """
    from django.test import override_settings

    from tests.fakes.openai import FakeOpenAI

    fake = FakeOpenAI()
    fake.run_retrieves_per_step = polls_per_step
    base_url = fake.serve()
    run_tag = uuid.uuid4().hex[:8]
    samples: list[TurnSample] = []
    try:
        for engine in ENGINES:
            with (
                override_settings(
                    OPENAI_API_KEY="sk-bench",
                    OPENAI_BASE_URL=base_url,
                    OPENAI_ENGINE=engine,
                    ASSISTANT_ID=ASSISTANT_ID,
                    OPENAI_BACKGROUND=False,
                    OPENAI_MAX_RETRIES=0,
                    OPENAI_RUN_TIMEOUT_S=30,
                    MESSAGING_BACKEND="messaging.backends.LocmemBackend",
                    TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}},
                ),
                fast_polling(),
            ):
                for repeat in range(repeats):
                    phone = f"whatsapp:+5215{ENGINES.index(engine)}{repeat:03d}{int(run_tag, 16) % 10**5:05d}"
                    for number, (scenario, text) in enumerate(SCENARIOS):
                        sid = f"SMbench{run_tag}{engine[:4]}{repeat:03d}{number}"
                        samples.append(
                            _measure_turn(fake, engine=engine, scenario=scenario, phone=phone, sid=sid, text=text)
                        )
    finally:
        fake.stop()
    return samples


def _measure_turn(fake, *, engine: str, scenario: str, phone: str, sid: str, text: str) -> TurnSample:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from threads import message_log
    from threads.models import Message, Turn
    from threads.services import process_user_messages

    message_log.record_inbound(user_phone=phone, twilio_sid=sid, body=text)
    fake.reset_requests()
    with CaptureQueriesContext(connection) as queries, queries_by_phase(connection) as attributed:
        started = time.perf_counter()
        process_user_messages(user_phone=phone)
        wall_ms = (time.perf_counter() - started) * 1000
    requests = fake.calls()
    turn = Turn.objects.filter(user_phone=phone).latest("pk")
    reply = Message.objects.filter(turn=turn, direction=Message.Direction.OUTBOUND).order_by("pk").first()
    return TurnSample(
        engine=engine,
        scenario=scenario,
        http_requests=len(requests),
        db_queries=len(queries.captured_queries),
        recorded_calls=turn.openai_calls,
        tool_calls=len(turn.tool_calls),
        reply_origin=reply.origin if reply else "none",
        wall_ms=wall_ms,
        endpoints=dict(Counter(endpoint_name(r.method, r.path) for r in requests)),
        phases=dict(Counter(phase for phase, _ in attributed)),
        unattributed=[function for phase, function in attributed if phase == "other"],
    )


def summarise(samples: list[TurnSample]) -> list[dict]:
    """One row per (scenario, engine): mean and range of each count, and the endpoints hit."""
    rows = []
    for scenario, _ in SCENARIOS:
        for engine in ENGINES:
            group = [s for s in samples if s.engine == engine and s.scenario == scenario]
            if not group:
                continue
            endpoints: Counter[str] = Counter()
            phases: Counter[str] = Counter()
            for sample in group:
                endpoints.update(sample.endpoints)
                phases.update(sample.phases)
            rows.append(
                {
                    "scenario": scenario,
                    "engine": engine,
                    "turns": len(group),
                    "http_requests": statistics.mean(s.http_requests for s in group),
                    "http_requests_range": [min(s.http_requests for s in group), max(s.http_requests for s in group)],
                    "db_queries": statistics.mean(s.db_queries for s in group),
                    "db_queries_range": [min(s.db_queries for s in group), max(s.db_queries for s in group)],
                    "recorded_calls": statistics.mean(s.recorded_calls for s in group),
                    "tool_calls": statistics.mean(s.tool_calls for s in group),
                    "fallback_replies": sum(s.reply_origin != "assistant" for s in group),
                    "endpoints": {name: count / len(group) for name, count in endpoints.items()},
                    "phases": {name: phases[name] / len(group) for name in PHASES if phases[name]},
                    "unattributed": sorted({f for s in group for f in s.unattributed}),
                }
            )
    return rows


def _cell(mean: float, span: list[int]) -> str:
    return fmt(mean, 0) if span[0] == span[1] else f"{mean:.1f} ({span[0]}-{span[1]})"


def report(rows: list[dict], *, polls_per_step: int, database: str) -> dict:
    """Print the tables and return the JSON-ready result (with the responses/assistants ratios)."""
    by_key = {(row["scenario"], row["engine"]): row for row in rows}
    table, ratios = [], {}
    for scenario, _ in SCENARIOS:
        base, new = by_key.get((scenario, BASELINE)), by_key.get((scenario, "responses"))
        if base is None or new is None:
            continue
        http_ratio = ratio(new["http_requests"], base["http_requests"])
        db_ratio = ratio(new["db_queries"], base["db_queries"])
        ratios[scenario] = {"http_requests": http_ratio, "db_queries": db_ratio}
        table.append(
            [
                scenario,
                _cell(base["http_requests"], base["http_requests_range"]),
                _cell(new["http_requests"], new["http_requests_range"]),
                fmt(http_ratio, 2),
                _cell(base["db_queries"], base["db_queries_range"]),
                _cell(new["db_queries"], new["db_queries_range"]),
                fmt(db_ratio, 2),
            ]
        )
    print_table(
        "1. OpenAI HTTP requests and DB queries per turn  (baseline = assistants engine, the original flow)",
        ["scenario", "asst HTTP", "resp HTTP", "resp/asst", "asst DB q", "resp DB q", "resp/asst"],
        table,
        notes=[
            f"database: {database}; assistants polls per model step: {polls_per_step}; "
            f"{rows[0]['turns'] if rows else 0} user(s) per engine, each: new user -> returning user -> tool round",
            "ratio < 1: the responses engine needs fewer requests/queries than the original flow",
        ],
    )
    detail = []
    for row in rows:
        endpoints = ", ".join(f"{name} x{count:g}" for name, count in row["endpoints"].items())
        check = "same" if row["recorded_calls"] == row["http_requests"] else f"{row['recorded_calls']:g}"
        if row["fallback_replies"]:
            check += f"; {row['fallback_replies']} FALLBACK reply(ies)"
        detail.append([f"{row['scenario']} / {row['engine']}", endpoints, fmt(row["tool_calls"], 0), check])
    print_table(
        "1b. Requests per turn by endpoint",
        ["scenario / engine", "endpoints (per turn, in order of first use)", "tools", "Turn.openai_calls"],
        detail,
        align="llrr",
        notes=["Turn.openai_calls: what the service recorded on the turn ('same' = matches the HTTP count)"],
    )
    targets = report_phases(rows, database=database)
    return {
        "polls_per_step": polls_per_step,
        "database": database,
        "rows": rows,
        "ratios_responses_to_assistants": ratios,
        "query_target": {"max_queries": QUERY_TARGET, "scenario": TARGET_SCENARIO, "by_engine": targets},
    }


def report_phases(rows: list[dict], *, database: str) -> dict[str, dict]:
    """Print table 1c (queries per phase of the turn, beside the target) and return the target's verdicts."""
    columns = [row for scenario, _ in SCENARIOS for row in rows if row["scenario"] == scenario]
    # Every phase, at 0 too (a phase that costs nothing is news); "other" only when something fell there.
    used = [name for name in PHASES if name != "other" or any(row["phases"].get(name) for row in columns)]
    table = [[PHASES[name], *(_count(row["phases"].get(name, 0)) for row in columns)] for name in used]
    table.append(["total", *(_count(row["db_queries"]) for row in columns)])
    targets = {}
    verdicts = []
    for row in columns:
        if row["scenario"] != TARGET_SCENARIO:
            verdicts.append("")
            continue
        met = row["db_queries_range"][1] <= QUERY_TARGET
        targets[row["engine"]] = {"queries": row["db_queries"], "met": met}
        verdicts.append("met" if met else "NOT met")
    table.append([f"target <= {QUERY_TARGET} ({TARGET_SCENARIO}, no tools)", *verdicts])
    others = sorted({function for row in columns for function in row["unattributed"]})
    print_table(
        "1c. DB queries per phase of the turn  (inside process_user_messages)",
        ["phase", *(f"{_SHORT[row['scenario']]} {_SHORT[row['engine']]}" for row in columns)],
        table,
        notes=[
            f"database: {database}; a query counts for the innermost function of ours on its stack that has a "
            "phase (bench/calls.py, _PHASE_OF)",
            "lease renewals by the LeaseKeeper's thread use their own connection and are not counted here",
            *([f"other: {', '.join(others)}"] if others else []),
        ],
    )
    return targets


_SHORT = {
    "new user": "new",
    "returning user": "return",
    "tool round": "tools",
    "assistants": "asst",
    "responses": "resp",
}


def _count(value: float) -> str:
    return fmt(value, 0) if float(value).is_integer() else f"{value:.1f}"


def run(*, quick: bool) -> dict:
    """Bench 1 on a fresh test database (DATABASE_URL's engine; `test_` prefix, dropped after)."""
    repeats = 1 if quick else 3
    with demo_test_database("calls") as vendor:
        say(f"calls: {repeats} user(s) x {len(SCENARIOS)} turns x {len(ENGINES)} engines")
        samples = measure_calls(repeats=repeats)
        result = report(summarise(samples), polls_per_step=DEFAULT_POLLS_PER_STEP, database=vendor)
        result["samples"] = [asdict(s) for s in samples]
        return result
