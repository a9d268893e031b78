"""Selectors for the staff statistics page: traffic, turns, latency, money, tools and delivery over a period.

Counts and sums are aggregated by the database (per local day, so they work on SQLite and
PostgreSQL alike). Percentiles, tool usage and price checks need the individual values, so they
are computed here over a bounded sample: the most recent turns of the period.
"""

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from . import repository
from .models import ANSWERED_STATUSES, LIMIT_REASON_PREFIX, ConsentEvent, Contact, Handoff, Message, Turn

logger = logging.getLogger(__name__)

MAX_DAYS = 366
# Bounds on the rows read into Python for percentiles (latency and cost), tool usage and price checks.
ANSWERED_SAMPLE_LIMIT = 50_000
TOOL_SAMPLE_LIMIT = 20_000
PRICE_CHECK_SAMPLE_LIMIT = 20_000
TOP_USERS = 10

# A turn still waiting for the model is priced when it ends: its cost is not unknown yet.
UNFINISHED_STATUSES = (Turn.Status.RUNNING, Turn.Status.BACKGROUND)
FAILED_DELIVERY_STATUSES = (Message.Status.FAILED, Message.Status.UNDELIVERED)


@dataclass(frozen=True)
class DayStats:
    day: date
    messages_in: int
    messages_out: int
    turns: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    # What the day's priced turns cost; turns of unknown price add nothing.
    cost_usd: Decimal = Decimal(0)
    opt_outs: int = 0
    opt_ins: int = 0
    blocked: int = 0  # outbound messages refused by WhatsApp's rules (opted out, window closed)


@dataclass(frozen=True)
class ToolUsage:
    name: str
    calls: int
    failures: int
    avg_ms: int | None


@dataclass(frozen=True)
class UserCost:
    user_phone: str
    profile_name: str
    turns: int
    cost_usd: Decimal


@dataclass(frozen=True)
class PriceCheckCounts:
    """What the price check of the model's replies found and did (`Turn.price_checks`)."""

    # Turns with at least one checked reply (exact); the rest count the entries of the sample.
    replies_checked: int
    # Amounts not in the catalogue, over every checked reply (a reply asked again is checked twice).
    wrong_amounts: int
    asked_again: int
    corrected: int
    removed: int
    replaced: int
    # True when more turns had checks than PRICE_CHECK_SAMPLE_LIMIT (newest ones counted).
    sampled: bool = False


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
    # True when the period had more answered turns than ANSWERED_SAMPLE_LIMIT (newest ones used).
    latency_sampled: bool
    tool_usage: list[ToolUsage]
    paused_users: int
    # Money: priced turns only. `unpriced_turns` asked a model and ended without a cost (no price, or no usage).
    cost_usd: Decimal
    cost_per_turn_p50_usd: Decimal | None
    cost_per_turn_p95_usd: Decimal | None
    cost_samples: int
    unpriced_turns: int
    # cached_input_tokens / input_tokens of the period (None without input tokens).
    cached_input_share: float | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int  # reasoning included
    reasoning_tokens: int
    top_users: list[UserCost]
    # Turns a budget kept from the model, by `fallback_reason` ("limit_…").
    limited_turns: int
    limited_by_reason: dict[str, int]
    # Turns answered by the fallback responder, by `fallback_reason` ("" when none was recorded), limits included.
    fallback_by_reason: dict[str, int]
    price_checks: PriceCheckCounts
    # WhatsApp's rules over the period, and how many users are opted out now.
    opt_outs: int = 0
    opt_ins: int = 0
    blocked_messages: int = 0
    opted_out_users: int = 0


def get_dashboard_stats(*, days: int = 14) -> DashboardStats:
    """Return the statistics of the last `days` local calendar days, today included."""
    since, day_list = _period(days)

    messages = Message.objects.filter(created_at__gte=since)
    per_day_messages: Counter[tuple[date, str]] = Counter()
    per_day_blocked: Counter[date] = Counter()
    for (day, direction, status), n in _count_per_day_by(messages, "created_at", "direction", "status").items():
        per_day_messages[day, direction] += n
        if status == Message.Status.BLOCKED:
            per_day_blocked[day] += n
    turns = Turn.objects.filter(started_at__gte=since)
    per_day_turns, per_day_cost, by_reason, fallback_by_reason = _turns_per_day(turns)
    per_day_consent = _count_per_day_by(ConsentEvent.objects.filter(created_at__gte=since), "created_at", "kind")

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
        checked=Count("pk", filter=~Q(price_checks=[])),
        **_usage_aggregates(),
    )
    contact_totals = Contact.objects.aggregate(
        paused=Count("pk", filter=Q(bot_paused=True)), opted_out=Count("pk", filter=Q(opted_out_at__isnull=False))
    )
    answered_rows, sampled = _answered_sample(turns)
    per_day_latency: dict[date, list[int]] = defaultdict(list)
    for started_at, latency_ms, _ in answered_rows:
        if latency_ms is not None:
            per_day_latency[timezone.localtime(started_at).date()].append(latency_ms)
    all_latencies = [latency_ms for _, latency_ms, _ in answered_rows if latency_ms is not None]
    costs = [cost for _, _, cost in answered_rows if cost is not None]

    per_day = [
        DayStats(
            day=day,
            messages_in=per_day_messages.get((day, Message.Direction.INBOUND), 0),
            messages_out=per_day_messages.get((day, Message.Direction.OUTBOUND), 0),
            turns=per_day_turns[day],
            latency_p50_ms=percentile(per_day_latency.get(day, []), 50),
            latency_p95_ms=percentile(per_day_latency.get(day, []), 95),
            cost_usd=per_day_cost.get(day, Decimal(0)),
            opt_outs=per_day_consent.get((day, ConsentEvent.Kind.OPT_OUT), 0),
            opt_ins=per_day_consent.get((day, ConsentEvent.Kind.OPT_IN), 0),
            blocked=per_day_blocked[day],
        )
        for day in day_list
    ]
    answered = turn_totals["answered"]
    usage = _usage_totals(turn_totals)
    limited_by_reason = {
        reason: n for reason, n in sorted(by_reason.items()) if reason.startswith(LIMIT_REASON_PREFIX) and n
    }
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
        paused_users=contact_totals["paused"],
        cost_usd=turn_totals["total_cost"] or Decimal(0),
        cost_per_turn_p50_usd=percentile(costs, 50),
        cost_per_turn_p95_usd=percentile(costs, 95),
        cost_samples=len(costs),
        unpriced_turns=turn_totals["unpriced_turns"],
        cached_input_share=(usage["cached_input_tokens"] / usage["input_tokens"] if usage["input_tokens"] else None),
        input_tokens=usage["input_tokens"],
        cached_input_tokens=usage["cached_input_tokens"],
        output_tokens=usage["output_tokens"],
        reasoning_tokens=usage["reasoning_tokens"],
        top_users=_top_users(turns),
        limited_turns=sum(limited_by_reason.values()),
        limited_by_reason=limited_by_reason,
        fallback_by_reason={reason: n for reason, n in sorted(fallback_by_reason.items()) if n},
        price_checks=_price_check_counts(turns, checked=turn_totals["checked"]),
        opt_outs=sum(d.opt_outs for d in per_day),
        opt_ins=sum(d.opt_ins for d in per_day),
        blocked_messages=sum(d.blocked for d in per_day),
        opted_out_users=contact_totals["opted_out"],
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
        limited_turns=Count("pk", filter=Q(fallback_reason__startswith=LIMIT_REASON_PREFIX)),
        **_usage_aggregates(),
    )
    cost = turns["total_cost"]
    last_24h = {
        **messages,
        "turns": turns["turns"],
        "fallback_turns": turns["fallback_turns"],
        "limited_turns": turns["limited_turns"],
        "unpriced_turns": turns["unpriced_turns"],
        # JSON-safe: the cost as a float of at most 6 decimals, sums of nothing as 0.
        "cost_usd": round(float(cost), 6) if cost is not None else 0.0,
        **_usage_totals(turns),
    }
    return {
        "mappings": {**repository.get_mapping_statistics(), "by_engine": repository.count_mappings_by_engine()},
        "last_24h": last_24h,
    }


def percentile[N: (int, Decimal)](values: Sequence[N], pct: float) -> N | None:
    """Return the nearest-rank percentile of `values` (None when empty): always one of the values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _period(days: int) -> tuple[datetime, list[date]]:
    """The start of the last `days` local calendar days (today included), and those days."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}; got {days}")
    first_day = timezone.localdate() - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    return since, [first_day + timedelta(days=offset) for offset in range(days)]


def _count_per_day_by(queryset, field: str, *columns: str) -> dict[tuple, int]:
    """Rows per (local day, *columns), in one grouped query.

    TruncDate uses the current time zone, so a "day" is the staff's day, not UTC's.
    """
    rows = queryset.order_by().annotate(day=TruncDate(field)).values("day", *columns).annotate(n=Count("pk"))
    return {(row["day"], *(row[column] for column in columns)): row["n"] for row in rows}


_TOKEN_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens")


def _usage_aggregates() -> dict:
    """Return the aggregates of tokens, dollars and unpriced turns, one shape for the page and the command."""
    # Aliases differ from the field names: a filter naming a field must not resolve to an aggregate.
    return {
        "total_cost": Sum("cost_usd"),
        "unpriced_turns": Count(
            "pk", filter=~Q(model="") & Q(cost_usd__isnull=True) & ~Q(status__in=UNFINISHED_STATUSES)
        ),
        **{f"total_{name}": Sum(name) for name in _TOKEN_FIELDS},
    }


def _usage_totals(totals: dict) -> dict[str, int]:
    """Pick the token sums out of an aggregate made with `_usage_aggregates`, 0 for a sum of nothing."""
    return {name: totals[f"total_{name}"] or 0 for name in _TOKEN_FIELDS}


def _turns_per_day(turns) -> tuple[Counter[date], dict[date, Decimal], Counter[str], Counter[str]]:
    """Count turns and sum their cost per local day, and count all turns and fallback turns per fallback reason.

    One grouped query: there is a row per day and reason, and reasons are the few our code writes,
    so the result stays small.
    """
    rows = (
        turns.order_by()
        .annotate(day=TruncDate("started_at"))
        .values("day", "fallback_reason")
        .annotate(
            n=Count("pk"),
            fallback=Count("pk", filter=Q(fallback_used=True) | Q(status=Turn.Status.FALLBACK)),
            cost=Sum("cost_usd"),
        )
    )
    per_day: Counter[date] = Counter()
    cost: dict[date, Decimal] = defaultdict(Decimal)
    by_reason: Counter[str] = Counter()
    fallback_by_reason: Counter[str] = Counter()
    for row in rows:
        per_day[row["day"]] += row["n"]
        by_reason[row["fallback_reason"]] += row["n"]
        fallback_by_reason[row["fallback_reason"]] += row["fallback"]
        if row["cost"] is not None:
            cost[row["day"]] += row["cost"]
    return per_day, cost, by_reason, fallback_by_reason


def _answered_sample(turns) -> tuple[list[tuple[datetime, int | None, Decimal | None]], bool]:
    """Read the latency and cost of the newest answered turns, for their percentiles."""
    rows = list(
        turns.filter(Q(status__in=ANSWERED_STATUSES) & (Q(latency_ms__isnull=False) | Q(cost_usd__isnull=False)))
        .order_by("-started_at")
        .values_list("started_at", "latency_ms", "cost_usd")[: ANSWERED_SAMPLE_LIMIT + 1]
    )
    sampled = len(rows) > ANSWERED_SAMPLE_LIMIT
    if sampled:
        logger.info("latency and cost percentiles computed over the newest %d turns only", ANSWERED_SAMPLE_LIMIT)
    return rows[:ANSWERED_SAMPLE_LIMIT], sampled


def _top_users(turns) -> list[UserCost]:
    """Return the TOP_USERS users who cost the most in the period, with all their turns counted."""
    rows = list(
        turns.order_by()
        .values("user_phone")
        .annotate(turns=Count("pk"), cost=Sum("cost_usd"))
        .filter(cost__gt=0)
        .order_by("-cost", "user_phone")[:TOP_USERS]
    )
    if not rows:
        return []
    names = dict(
        Contact.objects.filter(pk__in=[row["user_phone"] for row in rows]).values_list("user_phone", "profile_name")
    )
    return [
        UserCost(
            user_phone=row["user_phone"],
            profile_name=names.get(row["user_phone"], ""),
            turns=row["turns"],
            cost_usd=row["cost"],
        )
        for row in rows
    ]


def _price_check_counts(turns, *, checked: int) -> PriceCheckCounts:
    """Count wrong amounts and actions in each turn's `price_checks` list of {found, wrong, action}."""
    if not checked:
        return PriceCheckCounts(0, 0, 0, 0, 0, 0)
    lists = (
        turns.exclude(price_checks=[])
        .order_by("-started_at")
        .values_list("price_checks", flat=True)[:PRICE_CHECK_SAMPLE_LIMIT]
    )
    wrong = 0
    actions: Counter[str] = Counter()
    for check in _flatten(lists):
        amounts = check.get("wrong")
        wrong += len(amounts) if isinstance(amounts, list) else 0
        actions[str(check.get("action") or "")] += 1
    return PriceCheckCounts(
        replies_checked=checked,
        wrong_amounts=wrong,
        asked_again=actions["asked_again"],
        corrected=actions["corrected"],
        removed=actions["removed"],
        replaced=actions["replaced"],
        sampled=checked > PRICE_CHECK_SAMPLE_LIMIT,
    )


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
    # The columns are written by our code, but they are JSON: skip whatever is not a list of objects.
    for value in lists:
        if isinstance(value, list):
            yield from (call for call in value if isinstance(call, dict))


@dataclass(frozen=True)
class HandoffStats:
    """Requests for a person (threads.handoff): how many, how fast staff first answered, how many wait now."""

    per_day: list[tuple[date, int]]
    requested: int
    replied: int
    first_reply_p50_s: int | None
    first_reply_p95_s: int | None
    open_now: int


def get_handoff_stats(*, days: int = 14) -> HandoffStats:
    """Return the handoffs of the last `days` local calendar days (today included) and those open now."""
    since, day_list = _period(days)
    handoffs = Handoff.objects.filter(requested_at__gte=since)
    counts = _count_per_day_by(handoffs, "requested_at")
    waits = [
        round((replied - requested).total_seconds())
        for requested, replied in handoffs.exclude(first_staff_reply_at=None)
        .order_by("-requested_at")
        .values_list("requested_at", "first_staff_reply_at")[:ANSWERED_SAMPLE_LIMIT]
        if replied is not None  # always, after the exclude; it tells the type checker so
    ]
    return HandoffStats(
        per_day=[(day, counts.get((day,), 0)) for day in day_list],
        requested=sum(counts.values()),
        replied=len(waits),
        first_reply_p50_s=percentile(waits, 50),
        first_reply_p95_s=percentile(waits, 95),
        open_now=Contact.objects.filter(waiting_since__isnull=False).count(),
    )
