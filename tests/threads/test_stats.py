"""Statistics selectors against known rows with fixed timestamps: per-day counts, percentiles, tools, rates."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from threads import repository
from threads.models import Contact, Message, Turn
from threads.stats import (
    DayStats,
    PriceCheckCounts,
    ToolUsage,
    UserCost,
    get_dashboard_stats,
    get_recent_activity,
    percentile,
)

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
OTHER = "whatsapp:+5213398765432"
_sid = iter(range(10**6))


def local_at(days_ago: int, hour: int = 12, minute: int = 0) -> datetime:
    """An aware datetime `days_ago` local calendar days before today, at hour:minute local time."""
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def message(when: datetime, *, direction: str = "in", origin: str = "", status: str = "") -> Message:
    inbound = direction == Message.Direction.INBOUND
    return Message.objects.create(
        user_phone=PHONE,
        direction=direction,
        origin=origin or (Message.Origin.USER if inbound else Message.Origin.ASSISTANT),
        status=status or (Message.Status.RECEIVED if inbound else Message.Status.DELIVERED),
        twilio_sid=f"SM{next(_sid):032x}",
        body="hola",
        created_at=when,
    )


def turn(
    when: datetime, *, status: str = "completed", latency_ms: int | None = None, phone: str = PHONE, **fields
) -> Turn:
    return Turn.objects.create(user_phone=phone, started_at=when, status=status, latency_ms=latency_ms, **fields)


def priced(cost: str, *, input_tokens: int = 0, cached: int = 0, output: int = 0, reasoning: int = 0) -> dict:
    """The usage fields of a turn the model answered at a known price."""
    return {
        "model": "gpt-6-luna",
        "cost_usd": Decimal(cost),
        "input_tokens": input_tokens,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "reasoning_tokens": reasoning,
    }


@pytest.fixture
def known_data():
    """Two weeks of known traffic, plus older rows that only a 30-day period sees."""
    # yesterday: 3 in, 2 out (one failed, one undelivered); two completed turns with tools
    for minute in range(3):
        message(local_at(1, minute=minute))
    message(local_at(1), direction="out", status="failed")
    message(local_at(1), direction="out", status="undelivered")
    turn(local_at(1), latency_ms=100, tool_calls=[{"name": "buscar_curso", "ok": True, "ms": 40}])
    turn(
        local_at(1),
        latency_ms=300,
        tool_calls=[{"name": "buscar_curso", "ok": False, "ms": 60}, {"name": "detalle_curso", "ok": True, "ms": 20}],
    )
    # today: 2 in (one held), 3 out (one from staff); a fallback, a completed, a paused and a running turn
    message(local_at(0, hour=0, minute=5))
    message(local_at(0, hour=0, minute=6), status="held")
    message(local_at(0, hour=0, minute=7), direction="out")
    message(local_at(0, hour=0, minute=8), direction="out", origin="fallback")
    message(local_at(0, hour=0, minute=9), direction="out", origin="staff", status="sent")
    turn(local_at(0, hour=0, minute=5), status="fallback", latency_ms=900, fallback_used=True)
    turn(local_at(0, hour=0, minute=6), latency_ms=200)
    turn(local_at(0, hour=0, minute=7), status="paused", latency_ms=5)
    turn(local_at(0, hour=0, minute=8), status="running")
    # 20 days ago: outside the default period
    for minute in range(5):
        message(local_at(20, minute=minute))
    turn(local_at(20), latency_ms=10_000, tool_calls=[{"name": "buscar_curso", "ok": True, "ms": 10}])
    Contact.objects.create(user_phone=PHONE, bot_paused=True)
    Contact.objects.create(user_phone="whatsapp:+5213398765432", bot_paused=True)
    Contact.objects.create(user_phone="whatsapp:+5218112345678")
    repository.save_thread_id(PHONE, "conv_1")


def test_messages_and_turns_are_counted_per_local_day(known_data):
    stats = get_dashboard_stats(days=14)

    assert len(stats.per_day) == 14
    assert stats.per_day[0].day == timezone.localdate() - timedelta(days=13)
    assert stats.per_day[-1].day == timezone.localdate()
    assert stats.per_day[-2] == DayStats(
        day=timezone.localdate() - timedelta(days=1),
        messages_in=3,
        messages_out=2,
        turns=2,
        latency_p50_ms=100,
        latency_p95_ms=300,
    )
    assert stats.per_day[-1] == DayStats(
        day=timezone.localdate(), messages_in=2, messages_out=3, turns=4, latency_p50_ms=200, latency_p95_ms=900
    )
    assert all(d.messages_in == d.messages_out == d.turns == 0 for d in stats.per_day[:-2])
    assert (stats.messages_in, stats.messages_out, stats.turns) == (5, 5, 6)


def test_totals_rates_and_percentiles_cover_answered_turns_of_the_period(known_data):
    stats = get_dashboard_stats(days=14)

    assert (stats.answered_turns, stats.fallback_turns, stats.fallback_rate) == (4, 1, 0.25)
    # latencies of answered turns: 100, 200, 300, 900 (the paused turn's 5 ms is not a reply)
    assert (stats.latency_p50_ms, stats.latency_p95_ms, stats.latency_samples) == (200, 900, 4)
    assert stats.latency_sampled is False
    assert (stats.staff_messages, stats.held_messages, stats.delivery_failures) == (1, 1, 2)
    assert stats.paused_users == 2
    assert stats.mappings == {"total_mappings": 1, "created_last_24h": 1, "updated_last_24h": 1}


def test_tool_usage_counts_calls_failures_and_average_time_most_used_first(known_data):
    stats = get_dashboard_stats(days=14)

    assert stats.tool_usage == [
        ToolUsage(name="buscar_curso", calls=2, failures=1, avg_ms=50),
        ToolUsage(name="detalle_curso", calls=1, failures=0, avg_ms=20),
    ]


def test_a_longer_period_includes_older_rows(known_data):
    stats = get_dashboard_stats(days=30)

    assert (stats.messages_in, stats.turns, stats.latency_p95_ms) == (10, 7, 10_000)
    assert stats.per_day[-21].messages_in == 5
    assert stats.tool_usage[0] == ToolUsage(name="buscar_curso", calls=3, failures=1, avg_ms=37)


def test_days_follow_the_configured_time_zone_not_utc(settings):
    settings.TIME_ZONE = "America/Mexico_City"  # UTC-6: 21:00 local yesterday is 03:00 UTC today
    timezone.deactivate()
    late_yesterday = local_at(1, hour=21)
    assert late_yesterday.astimezone(timezone.UTC).date() == timezone.localdate()
    message(late_yesterday)
    turn(late_yesterday, latency_ms=400)

    stats = get_dashboard_stats(days=7)

    assert (stats.per_day[-2].messages_in, stats.per_day[-2].turns, stats.per_day[-2].latency_p50_ms) == (1, 1, 400)
    assert (stats.per_day[-1].messages_in, stats.per_day[-1].turns) == (0, 0)


def test_empty_database_gives_zeros_and_no_percentiles():
    stats = get_dashboard_stats(days=7)

    assert len(stats.per_day) == 7
    assert (stats.messages_in, stats.messages_out, stats.turns, stats.delivery_failures) == (0, 0, 0, 0)
    assert stats.fallback_rate is None
    assert stats.latency_p50_ms is None and stats.latency_p95_ms is None
    assert stats.tool_usage == []
    assert stats.mappings["total_mappings"] == 0


def test_malformed_tool_calls_are_skipped_not_fatal():
    turn(local_at(0), tool_calls=[{"name": "buscar_curso"}, "junk", {"ok": False}])
    turn(local_at(0), tool_calls={"name": "not a list"})

    stats = get_dashboard_stats(days=7)

    assert stats.tool_usage == [
        ToolUsage(name="?", calls=1, failures=1, avg_ms=None),
        ToolUsage(name="buscar_curso", calls=1, failures=0, avg_ms=None),
    ]


def test_the_number_of_queries_does_not_grow_with_the_rows(django_assert_max_num_queries):
    for days_ago in range(10):
        for _ in range(5):
            message(local_at(days_ago))
            turn(local_at(days_ago), latency_ms=100, tool_calls=[{"name": "buscar_curso", "ok": True, "ms": 1}])

    Contact.objects.create(user_phone=PHONE, profile_name="Ana")
    checks = [{"found": ["$1"], "wrong": ["$1"], "action": "removed"}]
    for days_ago in range(10):
        for _ in range(5):
            turn(local_at(days_ago), latency_ms=100, price_checks=checks, **priced("0.001", input_tokens=10))

    # 8 before money: + top users, their names and the price-check sample (each bounded), + consent per day.
    with django_assert_max_num_queries(12):
        stats = get_dashboard_stats(days=14)

    assert stats.turns == 100
    assert stats.price_checks.removed == 50
    assert stats.top_users[0].profile_name == "Ana"


@pytest.mark.parametrize("days", [0, -1, 367])
def test_a_period_outside_one_to_366_days_is_refused(days):
    with pytest.raises(ValueError):
        get_dashboard_stats(days=days)


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 50, None),
        ([7], 95, 7),
        ([100, 200, 300, 900], 50, 200),
        ([100, 200, 300, 900], 95, 900),
        (list(range(1, 101)), 95, 95),
        ([5, 1, 3], 0, 1),
    ],
)
def test_percentile_is_the_nearest_rank_value(values, pct, expected):
    assert percentile(values, pct) == expected


# --- money ------------------------------------------------------------------------------


@pytest.fixture
def money():
    """Priced, unpriced and limited turns with price checks this week, and a costly turn 20 days ago."""
    Contact.objects.create(user_phone=PHONE, profile_name="Ana")
    turn(
        local_at(0, hour=9),
        price_checks=[{"found": ["$1,200 MXN"], "wrong": [], "action": "passed"}],
        **priced("0.001", input_tokens=1000, cached=600, output=100, reasoning=40),
    )
    turn(
        local_at(0, hour=10),
        price_checks=[
            {"found": ["$999 MXN"], "wrong": ["$999 MXN"], "action": "asked_again"},
            {"found": ["$1,200 MXN"], "wrong": [], "action": "corrected"},
        ],
        **priced("0.003", input_tokens=3000, cached=400, output=300, reasoning=60),
    )
    turn(
        local_at(0, hour=11),
        phone=OTHER,
        price_checks=[
            {"found": ["$5", "$7"], "wrong": ["$5", "$7"], "action": "asked_again"},
            {"found": ["$5"], "wrong": ["$5"], "action": "removed"},
        ],
        **priced("0.01", input_tokens=6000, cached=0, output=600),
    )
    turn(
        local_at(1),
        status="fallback",
        fallback_used=True,
        fallback_reason="price_check",
        price_checks=[{"found": ["$1"], "wrong": ["$1"], "action": "replaced"}],
        **priced("0.0005"),
    )
    turn(local_at(1), model="gpt-unpriced", input_tokens=50, output_tokens=5)  # a model with no price
    turn(local_at(0), status="running", model="gpt-6-luna")  # priced when it ends: not answered yet
    for reason in ("limit_user_turns", "limit_user_turns", "limit_daily_cost"):
        turn(local_at(0), status="fallback", fallback_used=True, fallback_reason=reason, phone=OTHER)
    turn(local_at(0), status="paused")  # never asked the model: neither priced nor unpriced
    turn(local_at(20), **priced("1.5", input_tokens=99_999))


def test_cost_is_summed_per_local_day_and_over_the_period(money):
    stats = get_dashboard_stats(days=14)

    assert stats.per_day[-1].cost_usd == Decimal("0.014")
    assert stats.per_day[-2].cost_usd == Decimal("0.0005")
    assert all(day.cost_usd == 0 for day in stats.per_day[:-2])
    assert stats.cost_usd == Decimal("0.0145")
    assert get_dashboard_stats(days=30).cost_usd == Decimal("1.5145")


def test_cost_per_answered_turn_percentiles_cover_priced_turns_only(money):
    stats = get_dashboard_stats(days=14)

    # answered and priced: 0.0005, 0.001, 0.003, 0.01 (the running turn has no cost yet)
    assert (stats.cost_per_turn_p50_usd, stats.cost_per_turn_p95_usd) == (Decimal("0.001"), Decimal("0.01"))
    assert stats.cost_samples == 4
    assert stats.unpriced_turns == 1


def test_token_totals_and_the_cached_share_of_input(money):
    stats = get_dashboard_stats(days=14)

    assert (stats.input_tokens, stats.cached_input_tokens) == (10_050, 1000)
    assert (stats.output_tokens, stats.reasoning_tokens) == (1005, 100)
    assert stats.cached_input_share == pytest.approx(1000 / 10_050)


def test_most_expensive_users_come_first_with_their_name_and_turns(money):
    stats = get_dashboard_stats(days=14)

    assert stats.top_users == [
        UserCost(user_phone=OTHER, profile_name="", turns=4, cost_usd=Decimal("0.01")),
        UserCost(user_phone=PHONE, profile_name="Ana", turns=6, cost_usd=Decimal("0.0045")),
    ]


def test_only_the_ten_most_expensive_users_are_listed():
    for index in range(12):
        turn(local_at(0), phone=f"whatsapp:+52155000000{index:02d}", **priced(f"0.{index + 1:04d}"))

    top_users = get_dashboard_stats(days=7).top_users

    assert len(top_users) == 10
    assert top_users[0].cost_usd == Decimal("0.0012")
    assert top_users[-1].cost_usd == Decimal("0.0003")


def test_limited_turns_are_counted_by_reason(money):
    stats = get_dashboard_stats(days=14)

    assert stats.limited_turns == 3
    assert stats.limited_by_reason == {"limit_daily_cost": 1, "limit_user_turns": 2}


def test_fallback_turns_are_counted_by_every_reason_limits_included(money):
    turn(local_at(0), status="fallback", fallback_used=True, fallback_reason="timeout")
    turn(local_at(0), status="fallback", fallback_used=True, fallback_reason="openai_error")
    turn(local_at(0), status="fallback")  # answered by the fallback with no reason recorded
    turn(local_at(0), status="running", fallback_reason="price_check")  # not answered by the fallback yet
    turn(local_at(20), status="fallback", fallback_used=True, fallback_reason="timeout")  # outside the period

    stats = get_dashboard_stats(days=14)

    assert stats.fallback_by_reason == {
        "": 1,
        "limit_daily_cost": 1,
        "limit_user_turns": 2,
        "openai_error": 1,
        "price_check": 1,
        "timeout": 1,
    }


def test_price_checks_count_checked_replies_wrong_amounts_and_actions(money):
    stats = get_dashboard_stats(days=14)

    assert stats.price_checks == PriceCheckCounts(
        replies_checked=4, wrong_amounts=5, asked_again=2, corrected=1, removed=1, replaced=1
    )


def test_malformed_price_checks_are_skipped_not_fatal():
    turn(local_at(0), price_checks=["junk", {"wrong": "not a list", "action": "removed"}, {}])
    turn(local_at(0), price_checks={"action": "removed"})

    checks = get_dashboard_stats(days=7).price_checks

    assert (checks.replies_checked, checks.wrong_amounts, checks.removed) == (2, 0, 1)


def test_a_period_without_usage_has_zero_cost_and_no_shares():
    turn(local_at(0), latency_ms=100)

    stats = get_dashboard_stats(days=7)

    assert stats.cost_usd == 0 and stats.per_day[-1].cost_usd == 0
    assert stats.cost_per_turn_p50_usd is None and stats.cached_input_share is None
    assert (stats.input_tokens, stats.unpriced_turns, stats.limited_turns) == (0, 0, 0)
    assert stats.top_users == [] and stats.limited_by_reason == {}
    assert stats.price_checks == PriceCheckCounts(0, 0, 0, 0, 0, 0)


def test_recent_activity_adds_the_spend_of_the_last_24_hours():
    now = timezone.now()
    turn(now - timedelta(hours=1), **priced("0.0000014", input_tokens=100, cached=20, output=10, reasoning=4))
    turn(now - timedelta(hours=2), **priced("0.25", input_tokens=900, cached=0, output=90))
    turn(now - timedelta(hours=3), model="gpt-unpriced", input_tokens=5, output_tokens=1)
    turn(now - timedelta(hours=4), status="fallback", fallback_used=True, fallback_reason="limit_user_cost")
    turn(now - timedelta(hours=25), **priced("9", input_tokens=7, cached=7, output=7, reasoning=7))

    last_24h = get_recent_activity()["last_24h"]

    assert last_24h == {
        "messages_in": 0,
        "messages_out": 0,
        "turns": 4,
        "fallback_turns": 1,
        "limited_turns": 1,
        "unpriced_turns": 1,
        "cost_usd": 0.250001,
        "input_tokens": 1005,
        "cached_input_tokens": 20,
        "output_tokens": 101,
        "reasoning_tokens": 4,
    }
