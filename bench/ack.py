"""Bench 2: how fast the Twilio webhook is acknowledged under load, next to a trivial view.

gunicorn (the production config, TASKS_BACKEND=database, signatures validated) serves both
`POST /webhooks/twilio` and the bench's trivial view in the same run; no task worker runs, so
this is the acknowledgement path alone: verify, store the message, enqueue a task, answer.
Two loads: full speed (closed loop) and a moderate fixed rate (open loop). Afterwards every
200 must have stored one message and enqueued one task.
"""

import argparse
import logging
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from . import loadgen
from .common import fmt, print_table, ratio, say
from .stack import HOST, TWILIO_TOKEN, BenchStack

logger = logging.getLogger(__name__)

CONNECTIONS = 16
USERS = 2000  # distinct senders; requests cycle through them
TEXT = "Hola, ¿qué cursos de IA tienen?"
MAX_RATE_PREPARED = 4000  # requests/s signed ahead for a full-speed run (the list bounds the run too)
TARGET_THROUGHPUT_RATIO = 0.35  # issue 9; 0.5 is the aim
AIM_THROUGHPUT_RATIO = 0.5
SETTLE_S = 1.0  # pause between loads
SETTLE_TIMEOUT_S = 15.0
TARGET_P99_MS = 20.0


def run(stack: BenchStack, args: argparse.Namespace) -> dict:
    duration = 3.0 if args.quick else 10.0
    warmup = 1.0
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and loadgen.wrk_path() is not None)
    if args.loadgen == "wrk" and loadgen.wrk_path() is None:
        raise RuntimeError("--loadgen wrk: wrk is not installed (apt-get install -y wrk)")
    stack.db.truncate_run_tables()

    def prepare(path: str, seconds: float, rate: float = MAX_RATE_PREPARED) -> list[loadgen.PreparedRequest]:
        return loadgen.twilio_requests(
            public_base_url=stack.public_base_url,
            auth_token=TWILIO_TOKEN,
            count=int(seconds * rate) + CONNECTIONS,
            users=USERS,
            text=TEXT,
            path=path,
        )

    cpu: dict[str, CpuSplit] = {}

    def load(name: str, requests, seconds: float, *, rate: float | None = None, full_speed_tool: bool = False):
        if full_speed_tool:
            before = CpuSample.take(stack)
            result = _load(name, requests, seconds, rate=rate, full_speed_tool=True)
            cpu[name] = CpuSample.take(stack).since(before, requests=result.ok)
            return result
        return _load(name, requests, seconds, rate=rate)

    def _load(name: str, requests, seconds: float, *, rate: float | None = None, full_speed_tool: bool = False):
        say(f"ack: {name} for {seconds:g} s")
        if full_speed_tool and use_wrk:
            return loadgen.run_wrk(
                requests,
                host=HOST,
                port=stack.port,
                connections=CONNECTIONS,
                duration_s=seconds,
                work_dir=stack.log_dir,
            )
        return loadgen.run_python_load(
            requests, host=HOST, port=stack.port, connections=CONNECTIONS, duration_s=seconds, rate=rate
        )

    say("ack: signing requests")
    webhook_runs = []
    load("warm-up trivial", prepare(loadgen.TRIVIAL_PATH, warmup), warmup)
    webhook_runs.append(load("warm-up webhook", prepare(loadgen.TWILIO_PATH, warmup), warmup))
    results = {}
    # Moderate load first: after a full-speed burst PostgreSQL is busy for a while (vacuum, checkpoint).
    results["moderate_trivial"] = load(
        f"{args.rate:g}/s, trivial", prepare(loadgen.TRIVIAL_PATH, duration, args.rate), duration, rate=args.rate
    )
    time.sleep(SETTLE_S)
    results["moderate_webhook"] = load(
        f"{args.rate:g}/s, webhook", prepare(loadgen.TWILIO_PATH, duration, args.rate), duration, rate=args.rate
    )
    # Full speed in rounds, trivial then webhook: one pair's ratio moves by a few hundredths with whatever
    # else the machine does; the median pair's is the figure, and every round's is printed.
    rounds = 1 if args.quick else args.rounds
    pairs = []
    for number in range(1, rounds + 1):
        of = f" (round {number} of {rounds})" if rounds > 1 else ""
        time.sleep(SETTLE_S)
        trivial = load(
            f"full speed, trivial{of}", prepare(loadgen.TRIVIAL_PATH, duration), duration, full_speed_tool=True
        )
        time.sleep(SETTLE_S)
        webhook = load(
            f"full speed, webhook{of}", prepare(loadgen.TWILIO_PATH, duration), duration, full_speed_tool=True
        )
        webhook_runs.append(webhook)
        pair_ratio = ratio(webhook.summary()["rps"], trivial.summary()["rps"])
        pairs.append((pair_ratio if pair_ratio is not None else 0.0, of, trivial, webhook))
    round_ratios = [pair[0] for pair in pairs]
    _, median_of, results["full_trivial"], results["full_webhook"] = sorted(pairs, key=lambda pair: pair[0])[
        (len(pairs) - 1) // 2
    ]
    webhook_runs.append(results["moderate_webhook"])

    summaries = {name: result.summary() for name, result in results.items()}
    rows = []
    for name, label, target in (
        ("full_trivial", "full speed", "trivial"),
        ("full_webhook", "full speed", "webhook"),
        ("moderate_trivial", f"{args.rate:g} req/s", "trivial"),
        ("moderate_webhook", f"{args.rate:g} req/s", "webhook"),
    ):
        s = summaries[name]
        other = s["sent"] - s["ok"]
        rows.append(
            [label, target, s["generator"], s["sent"], s["ok"], other, s["rps"], s["p50_ms"], s["p99_ms"], s["max_ms"]]
        )
    throughput_ratio = ratio(summaries["full_webhook"]["rps"], summaries["full_trivial"]["rps"])
    p99_moderate = summaries["moderate_webhook"]["p99_ms"]
    p99_ratio = ratio(p99_moderate, summaries["moderate_trivial"]["p99_ms"])
    behind = max(summaries["moderate_webhook"]["behind_s"], summaries["moderate_trivial"]["behind_s"])
    print_table(
        f"2. Webhook acknowledgement  (gunicorn {args.workers} workers x {args.threads} threads, "
        f"TASKS_BACKEND=database, no task worker; {CONNECTIONS} connections)",
        ["load", "target", "client", "sent", "200", "other", "req/s", "p50 ms", "p99 ms", "max ms"],
        rows,
        align="llrrrrrrrr",
        notes=[
            f"throughput webhook/trivial at full speed: {fmt(throughput_ratio, 2)}  "
            f"(target >= {TARGET_THROUGHPUT_RATIO}: {_verdict(throughput_ratio, TARGET_THROUGHPUT_RATIO, above=True)}; "
            f"aim {AIM_THROUGHPUT_RATIO})",
            *(
                [
                    f"full-speed rounds: {', '.join(fmt(r, 2) for r in round_ratios)}; the rows and table 2c are the "
                    f"median round's{median_of}"
                ]
                if rounds > 1
                else []
            ),
            f"p99 webhook at {args.rate:g} req/s: {fmt(p99_moderate)} ms  "
            f"(target < {TARGET_P99_MS:g} ms: {_verdict(p99_moderate, TARGET_P99_MS, above=False)}); "
            f"p99 webhook/trivial: {fmt(p99_ratio, 1)}",
            "the load generator runs on the same 2 cores as gunicorn and PostgreSQL: absolute req/s are a floor,"
            " the ratio is the figure",
            *([f"the fixed-rate client fell behind by up to {behind:.3f} s"] if behind > 0.05 else []),
            *(
                [f"{summaries['full_webhook']['unanswered']} wrk request(s) in flight at the end are not counted"]
                if use_wrk
                else []
            ),
        ],
    )
    cpu_split = print_cpu(cpu[f"full speed, trivial{median_of}"], cpu[f"full speed, webhook{median_of}"])
    verification = verify(stack, webhook_runs)
    return {
        "connections": CONNECTIONS,
        "duration_s": duration,
        "gunicorn": {"workers": args.workers, "threads": args.threads},
        "loads": summaries,
        "throughput_ratio_webhook_to_trivial": throughput_ratio,
        "throughput_ratio_rounds": round_ratios,
        "p99_ms_webhook_moderate": p99_moderate,
        "p99_ratio_webhook_to_trivial_moderate": p99_ratio,
        "targets": {
            "throughput_ratio_min": TARGET_THROUGHPUT_RATIO,
            "throughput_ratio_aim": AIM_THROUGHPUT_RATIO,
            "p99_ms_max": TARGET_P99_MS,
        },
        "cpu_ms_per_request": cpu_split,
        "verification": verification,
    }


@dataclass(frozen=True)
class CpuSplit:
    """CPU milliseconds per answered request during one load, by who spent them (None: not measurable here)."""

    gunicorn: float | None
    postgres: float | None
    loadgen: float
    busy: float | None  # share of the machine's CPU time that was busy (anyone's), 0-1
    load_average: float

    def as_dict(self) -> dict:
        return {
            "gunicorn": self.gunicorn,
            "postgres": self.postgres,
            "loadgen": self.loadgen,
            "machine_busy": self.busy,
            "load_average": self.load_average,
        }


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far of gunicorn's workers, of the bench database's PostgreSQL backends and of this process.

    Read from /proc (Linux, PostgreSQL on this machine); elsewhere those columns stay empty.
    Backends are per pid: a backend the pool opens during the load counts from zero.
    """

    gunicorn: dict[int, float]
    postgres: dict[int, float]
    loadgen: float  # this process (the Python load generator's threads) and finished children (wrk)
    machine: tuple[float, float] | None  # (busy, total) jiffies of the whole machine

    @classmethod
    def take(cls, stack: BenchStack) -> "CpuSample":
        master = stack.gunicorn.process.pid if stack.gunicorn else -1
        backends = [pid for (pid,) in stack.db.rows(_BACKENDS_SQL, [stack.db.name])]
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            gunicorn={pid: t for pid, t in _proc_cpu().items() if _parent(pid) == master},
            postgres={pid: t for pid in backends if (t := _proc_cpu([pid]).get(pid)) is not None},
            loadgen=own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            machine=_machine_jiffies(),
        )

    def since(self, before: "CpuSample", *, requests: int) -> CpuSplit:
        def per_request(now: dict[int, float], then: dict[int, float]) -> float | None:
            if not now or not requests:
                return None
            return sum(t - then.get(pid, 0.0) for pid, t in now.items()) / requests * 1000

        busy = None
        if self.machine and before.machine and self.machine[1] > before.machine[1]:
            busy = (self.machine[0] - before.machine[0]) / (self.machine[1] - before.machine[1])
        return CpuSplit(
            gunicorn=per_request(self.gunicorn, before.gunicorn),
            postgres=per_request(self.postgres, before.postgres),
            loadgen=(self.loadgen - before.loadgen) / max(requests, 1) * 1000,
            busy=busy,
            load_average=os.getloadavg()[0],
        )


_BACKENDS_SQL = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pids: list[int] | None = None) -> dict[int, float]:
    """CPU seconds (user + system) of the given processes, or of every process, from /proc."""
    found = {}
    for pid in pids if pids is not None else [int(p) for p in os.listdir("/proc") if p.isdigit()]:
        fields = _stat_fields(pid)
        if fields is not None:
            found[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
    return found


def _parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _machine_jiffies() -> tuple[float, float] | None:
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def print_cpu(trivial: CpuSplit, webhook: CpuSplit) -> dict:
    """Table 2c: where the CPU of a request goes at full speed, trivial view beside webhook."""

    def total(split: CpuSplit) -> float | None:
        if split.gunicorn is None:
            return None
        return split.gunicorn + (split.postgres or 0.0) + split.loadgen

    rows = [
        [
            name,
            fmt(split.gunicorn, 2),
            fmt(split.postgres, 2),
            fmt(split.loadgen, 2),
            fmt(total(split), 2),
            fmt(None if split.busy is None else split.busy * 100, 0),
            fmt(split.load_average, 1),
        ]
        for name, split in (("trivial", trivial), ("webhook", webhook))
    ]
    print_table(
        "2c. CPU per answered request at full speed, ms (from /proc; the machine is shared)",
        ["target", "gunicorn", "postgres", "load gen", "total", "busy %", "load avg"],
        rows,
        align="lrrrrrr",
        notes=[
            "gunicorn = its workers; postgres = the backends connected to the bench database (its commits,"
            " not the WAL writer's); load gen = this process (the Python client) or wrk",
            "throughput ratio ~ trivial total / webhook total when the bench gets the same CPU for both loads;"
            " busy % < 100 or a high load average means other processes took a share",
        ],
    )
    return {"trivial": trivial.as_dict(), "webhook": webhook.as_dict()}


def verify(stack: BenchStack, webhook_runs: list[loadgen.LoadResult]) -> dict:
    """Count what the webhook left behind: one message and one task per 200."""
    ok = sum(run.ok for run in webhook_runs)
    unanswered = sum(run.unanswered for run in webhook_runs)
    # Requests wrk left in flight may still be committing: count once the numbers stop moving.
    counts, deadline = None, time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        latest = _counts(stack)
        if latest == counts:
            break
        counts = latest
        time.sleep(SETTLE_S / 2)
    stored, distinct, tasks, turn_tasks = counts
    consistent = stored == distinct == turn_tasks == tasks
    exact = consistent and stored == ok
    within = consistent and 0 <= stored - ok <= unanswered
    verdict = "ok" if exact else ("ok (within wrk's uncounted in-flight requests)" if within else "MISMATCH")
    print_table(
        "2b. After the run: what the webhook stored and enqueued (warm-up included)",
        [
            "webhook 200s",
            "messages stored",
            "distinct MessageSids",
            "tasks enqueued",
            "process_user_messages tasks",
            "check",
        ],
        [[ok, stored, distinct, tasks, turn_tasks, verdict]],
        align="rrrrrl",
    )
    return {
        "webhook_200s": ok,
        "messages_stored": stored,
        "distinct_sids": distinct,
        "tasks": tasks,
        "process_user_messages_tasks": turn_tasks,
        "check": verdict,
    }


def _counts(stack: BenchStack) -> tuple:
    return stack.db.rows(
        "SELECT (SELECT count(*) FROM brenda_messages WHERE direction = 'in'),"
        " (SELECT count(DISTINCT twilio_sid) FROM brenda_messages WHERE direction = 'in'),"
        " (SELECT count(*) FROM django_tasks_database_dbtaskresult),"
        " (SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE task_path LIKE %s)",
        ["%process_user_messages_task"],
    )[0]


def _verdict(value: float | None, target: float, *, above: bool) -> str:
    if value is None:
        return "n/a"
    return "met" if (value >= target if above else value < target) else "NOT met"
