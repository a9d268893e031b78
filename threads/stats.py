"""Selectors for the staff statistics page: traffic, turns, latency, tools and delivery over a period.

Counts are aggregated by the database (per local day, so they work on SQLite and PostgreSQL
alike). Percentiles and tool usage need the individual values, so they are computed here over
a bounded sample: the most recent turns of the period.
"""

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from . import repository
from .models import Contact, Message, Turn

logger = logging.getLogger(__name__)

MAX_DAYS = 366
# Bounds on the rows read into Python for percentiles and tool usage.
LATENCY_SAMPLE_LIMIT = 50_000
TOOL_SAMPLE_LIMIT = 20_000

ANSWERED_STATUSES = (Turn.Status.COMPLETED, Turn.Status.FALLBACK)
FAILED_DELIVERY_STATUSES = (Message.Status.FAILED, Message.Status.UNDELIVERED)


@dataclass(frozen=True)
class DayStats:
    day: date
    messages_in: int
    messages_out: int
    turns: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None


@dataclass(frozen=True)
class ToolUsage:
    name: str
    calls: int
    failures: int
    avg_ms: int | None


@dataclass(frozen=True)
class DashboardStats:
    days: int
    since: datetime
    mappings: repository.MappingStatistics
    per_day: list[DayStats]
    messages_in: int
    messages_out: int
    staff_messages: int
    held_messages: int
    delivery_failures: int
    turns: int
    answered_turns: int
    fallback_turns: int
    # Share of answered turns (completed or fallback) that the fallback responder answered.
    fallback_rate: float | None
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    latency_samples: int
    # True when the period had more answered turns than LATENCY_SAMPLE_LIMIT (newest ones used).
    latency_sampled: bool
    tool_usage: list[ToolUsage]
    paused_users: int


def get_dashboard_stats(*, days: int = 14) -> DashboardStats:
    """Return the statistics of the last `days` local calendar days, today included."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}; got {days}")
    today = timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    day_list = [first_day + timedelta(days=offset) for offset in range(days)]

    messages = Message.objects.filter(created_at__gte=since)
    per_day_messages = _count_per_day(messages, "created_at", extra="direction")
    turns = Turn.objects.filter(started_at__gte=since)
    per_day_turns = _count_per_day(turns, "started_at")

    message_totals = messages.aggregate(
        staff=Count("pk", filter=Q(origin=Message.Origin.STAFF)),
        held=Count("pk", filter=Q(status=Message.Status.HELD)),
        failed=Count("pk", filter=Q(direction=Message.Direction.OUTBOUND, status__in=FAILED_DELIVERY_STATUSES)),
    )
    turn_totals = turns.aggregate(
        answered=Count("pk", filter=Q(status__in=ANSWERED_STATUSES)),
        fallback=Count(
            "pk", filter=Q(status__in=ANSWERED_STATUSES) & (Q(fallback_used=True) | Q(status=Turn.Status.FALLBACK))
        ),
    )
    latencies, sampled = _latency_sample(turns)
    per_day_latency: dict[date, list[int]] = defaultdict(list)
    for started_at, latency_ms in latencies:
        per_day_latency[timezone.localtime(started_at).date()].append(latency_ms)
    all_latencies = [latency_ms for _, latency_ms in latencies]

    per_day = [
        DayStats(
            day=day,
            messages_in=per_day_messages.get((day, Message.Direction.INBOUND), 0),
            messages_out=per_day_messages.get((day, Message.Direction.OUTBOUND), 0),
            turns=per_day_turns.get((day, None), 0),
            latency_p50_ms=percentile(per_day_latency.get(day, []), 50),
            latency_p95_ms=percentile(per_day_latency.get(day, []), 95),
        )
        for day in day_list
    ]
    answered = turn_totals["answered"]
    return DashboardStats(
        days=days,
        since=since,
        mappings=repository.get_mapping_statistics(),
        per_day=per_day,
        messages_in=sum(d.messages_in for d in per_day),
        messages_out=sum(d.messages_out for d in per_day),
        staff_messages=message_totals["staff"],
        held_messages=message_totals["held"],
        delivery_failures=message_totals["failed"],
        turns=sum(d.turns for d in per_day),
        answered_turns=answered,
        fallback_turns=turn_totals["fallback"],
        fallback_rate=turn_totals["fallback"] / answered if answered else None,
        latency_p50_ms=percentile(all_latencies, 50),
        latency_p95_ms=percentile(all_latencies, 95),
        latency_samples=len(all_latencies),
        latency_sampled=sampled,
        tool_usage=_tool_usage(turns),
        paused_users=Contact.objects.filter(bot_paused=True).count(),
    )


def get_recent_activity() -> dict:
    """The operator's quick numbers: mapping statistics (by engine too) and the last 24 hours' traffic."""
    since = timezone.now() - timedelta(hours=24)
    messages = Message.objects.filter(created_at__gte=since).aggregate(
        messages_in=Count("pk", filter=Q(direction=Message.Direction.INBOUND)),
        messages_out=Count("pk", filter=Q(direction=Message.Direction.OUTBOUND)),
    )
    turns = Turn.objects.filter(started_at__gte=since).aggregate(
        turns=Count("pk"),
        fallback_turns=Count("pk", filter=Q(fallback_used=True) | Q(status=Turn.Status.FALLBACK)),
    )
    return {
        "mappings": {**repository.get_mapping_statistics(), "by_engine": repository.count_mappings_by_engine()},
        "last_24h": {**messages, **turns},
    }


def percentile(values: Sequence[int], pct: float) -> int | None:
    """Return the nearest-rank percentile of `values` (None when empty): always one of the values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _count_per_day(queryset, field: str, *, extra: str | None = None) -> dict[tuple[date, str | None], int]:
    # TruncDate uses the current time zone, so a "day" is the staff's day, not UTC's.
    group = ["day", extra] if extra else ["day"]
    rows = queryset.order_by().annotate(day=TruncDate(field)).values(*group).annotate(n=Count("pk"))
    return {(row["day"], row[extra] if extra else None): row["n"] for row in rows}


def _latency_sample(turns) -> tuple[list[tuple[datetime, int]], bool]:
    rows = list(
        turns.filter(status__in=ANSWERED_STATUSES, latency_ms__isnull=False)
        .order_by("-started_at")
        .values_list("started_at", "latency_ms")[: LATENCY_SAMPLE_LIMIT + 1]
    )
    sampled = len(rows) > LATENCY_SAMPLE_LIMIT
    if sampled:
        logger.info("latency percentiles computed over the newest %d turns only", LATENCY_SAMPLE_LIMIT)
    return rows[:LATENCY_SAMPLE_LIMIT], sampled


def _tool_usage(turns) -> list[ToolUsage]:
    """Count calls per tool, most used first, from each turn's `tool_calls` list of {name, ok, ms}."""
    calls = (
        turns.exclude(tool_calls=[]).order_by("-started_at").values_list("tool_calls", flat=True)[:TOOL_SAMPLE_LIMIT]
    )
    counts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    durations: dict[str, list[float]] = defaultdict(list)
    for call in _flatten(calls):
        name = str(call.get("name") or "?")
        counts[name] += 1
        if call.get("ok") is False:
            failures[name] += 1
        ms = call.get("ms")
        if isinstance(ms, int | float) and not isinstance(ms, bool):
            durations[name].append(ms)
    return [
        ToolUsage(
            name=name,
            calls=n,
            failures=failures[name],
            avg_ms=round(sum(durations[name]) / len(durations[name])) if durations[name] else None,
        )
        for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def _flatten(lists: Iterable[object]) -> Iterable[dict]:
    # The column is written by our engines, but it is JSON: skip whatever is not a list of objects.
    for value in lists:
        if isinstance(value, list):
            yield from (call for call in value if isinstance(call, dict))
