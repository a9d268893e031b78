"""How money, numbers, dates and turn records read in the admin: one wording and one format for every page.

The list of turns, a turn's page, the transcript and the statistics page all show the same
things (a cost, a latency, what the price check did, why the fallback answered); the labels and
formats live here so they read the same everywhere. The admin is written in English; only what
the bot says to users is Spanish.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from ..models import OPEN_STATUSES, Turn

# What every empty or unknown value shows, in every column and field (ModelAdmin.empty_value_display too).
EMPTY = "—"

# What the price check did to a reply (`Turn.price_checks[].action`).
PRICE_CHECK_ACTIONS = {
    "passed": "passed",
    "asked_again": "asked again",
    "corrected": "corrected",
    "removed": "wrong sentences removed",
    "replaced": "reply replaced",
}

# Why a turn was answered by the fallback responder (`Turn.fallback_reason`); "limit_…" reasons kept it from the model.
FALLBACK_REASONS = {
    "timeout": "OpenAI timeout",
    "openai_error": "OpenAI error",
    "internal_error": "internal error",
    "empty_reply": "empty reply from the model",
    "price_check": "price check replaced the reply",
    "media": "media only",
    "not_configured": "OpenAI not configured",
    "limit_user_turns": "per-user turn limit",
    "limit_user_cost": "per-user cost limit",
    "limit_daily_cost": "deployment cost limit",
    "": "no reason recorded",
}

# Django's DATETIME_FORMAT ("Dec. 2, 2026, 4:37 p.m.") with seconds, for the moments of a turn and its messages.
DATETIME_SECONDS_FORMAT = "N j, Y, g:i:s a"
_MICRODOLLAR = Decimal("0.000001")


def format_usd(value: Decimal | None) -> str:
    """Show dollars by magnitude: cents from $1 up ("$1,234.50"), up to six decimals below ("$0.0121").

    A model turn costs a fraction of a cent, so small amounts keep their digits; "—" means the price is unknown.
    """
    if value is None:
        return EMPTY
    if abs(value) >= 1:
        return "$" + number_format(value, decimal_pos=2, force_grouping=True)
    rounded = value.quantize(_MICRODOLLAR, rounding=ROUND_HALF_UP)
    if not rounded and value:
        return "< $0.000001"
    if abs(rounded) >= 1:  # 0.9999996 rounds up to a dollar
        return "$1.00"
    exponent = rounded.normalize().as_tuple().exponent
    decimals = max(2, -exponent) if isinstance(exponent, int) else 2
    return "$" + number_format(rounded, decimal_pos=decimals)


def format_count(value: int | None) -> str:
    """Show a whole number with thousands separators ("12,345")."""
    return EMPTY if value is None else number_format(value, force_grouping=True)


def format_ms(value: int | float | None) -> str:
    """Show a duration in milliseconds with thousands separators ("7,605 ms")."""
    return EMPTY if value is None else f"{number_format(round(value), force_grouping=True)} ms"


def format_datetime(value: datetime | None, *, seconds: bool = False) -> str:
    """Show a moment in the current time zone as Django's admin does ("Dec. 2, 2026, 4:37 p.m."), seconds if asked."""
    if value is None:
        return EMPTY
    return date_format(timezone.localtime(value), DATETIME_SECONDS_FORMAT if seconds else "DATETIME_FORMAT")


def format_short_datetime(value: datetime | None) -> str:
    """Show a moment compactly for list columns: the year only when it is not this year ("Dec. 2, 4:37 p.m.").

    A narrow column may wrap it after the date, never inside the time.
    """
    if value is None:
        return EMPTY
    local = timezone.localtime(value)
    day = date_format(local, "N j," if local.year == timezone.localdate().year else "N j, Y,")
    return f"{day} {date_format(local, 'P').replace(' ', '\N{NO-BREAK SPACE}')}"


def conversation_url(user_phone: str, *, has_mapping: bool) -> str:
    """Return where staff read a user's conversation: the transcript, or the message log without a thread mapping.

    Users answered only by the fallback responder have no mapping, hence the message log.
    """
    if has_mapping:
        return reverse("admin:threads_oathreadmap_change", args=[quote(user_phone)])
    return f"{reverse('admin:threads_message_changelist')}?{urlencode({'q': user_phone})}"


def fallback_reason_label(reason: str) -> str:
    """Name a fallback reason in staff's words; an unknown one is shown as written."""
    return FALLBACK_REASONS.get(reason, reason)


def count_by_reason(counts: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """Return (label, reason, count) rows, most frequent first."""
    return [
        (fallback_reason_label(reason), reason, count)
        for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def turn_cost(turn: Turn) -> str:
    """Show what a turn cost: $0 when it never asked the model (a limit, a paused bot), "—" when unknown.

    A turn with a model and no cost used a model without a price; an open turn is priced when it ends.
    """
    if turn.cost_usd is not None:
        return format_usd(turn.cost_usd)
    if not turn.model and not turn.openai_calls and turn.status not in OPEN_STATUSES:
        return format_usd(Decimal(0))
    return EMPTY


def turn_tokens(turn: Turn) -> str:
    """Show the tokens in and out ("12,345 / 512"), "—" when the turn has no usage."""
    if turn.input_tokens is None and turn.output_tokens is None:
        return EMPTY
    return f"{format_count(turn.input_tokens)} / {format_count(turn.output_tokens)}"


def cached_share(turn: Turn) -> str:
    """Show the share of the input that was cached ("65%"), "—" without input tokens."""
    if not turn.input_tokens or turn.cached_input_tokens is None:
        return EMPTY
    return f"{turn.cached_input_tokens / turn.input_tokens:.0%}"


def tool_calls_text(tool_calls: object) -> str:
    """Show each tool call with its time: "buscar_curso (4 ms), detalle_curso (failed, 12 ms)"."""
    calls = [call for call in tool_calls if isinstance(call, dict)] if isinstance(tool_calls, list) else []
    if not calls:
        return EMPTY
    return ", ".join(_tool_call_text(call) for call in calls)


def _tool_call_text(call: dict) -> str:
    notes = ["failed"] if call.get("ok") is False else []
    ms = call.get("ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        notes.append(format_ms(ms))
    name = str(call.get("name") or "?")
    return f"{name} ({', '.join(notes)})" if notes else name


def state_html(state: object) -> SafeString | str:
    """Show an engine state as a short "key: value" list (JSON for nested values)."""
    if not state:
        return EMPTY
    if not isinstance(state, dict):
        return json.dumps(state, ensure_ascii=False)
    return format_html(
        '<ul class="brenda-state">{}</ul>',
        format_html_join(
            "",
            "<li><code>{}</code>: {}</li>",
            ((key, _state_value(value)) for key, value in state.items()),
        ),
    )


def _state_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:199] + "…"


def price_checks_html(checks: object) -> list[SafeString]:
    """Show what each price check found and did, in order: "wrong: $3,990 MXN → asked again", "corrected: $4,590 MXN".

    Wrong amounts are marked as wrong (they never reached the user as prices); the amounts of a
    reply that passed or was corrected are the ones the user read.
    """
    entries = [check for check in checks if isinstance(check, dict)] if isinstance(checks, list) else []
    return [_price_check_html(check) for check in entries if check.get("action")]


def _price_check_html(check: dict) -> SafeString:
    action = str(check.get("action"))
    label = PRICE_CHECK_ACTIONS.get(action, action)
    wrong = _amounts(check.get("wrong"))
    if wrong:
        return format_html('<span class="badge price-wrong">wrong: {}</span> → {}', wrong, label)
    found = _amounts(check.get("found"))
    css = "price-ok" if action == "corrected" else "price-passed"
    if found:
        return format_html('<span class="badge {}">{}: {}</span>', css, label, found)
    return format_html('<span class="badge {}">{}</span>', css, label)


def _amounts(value: object) -> str:
    return ", ".join(str(amount) for amount in value) if isinstance(value, list) else ""


@dataclass(frozen=True)
class TurnSummary:
    """A turn's record as the transcript shows it, each value formatted like the turn's own page."""

    turn: Turn
    latency: str
    tools: str
    tokens_in: str
    tokens_out: str
    cached_share: str
    cost: str | None  # None when unknown
    fallback_reason: str
    price_checks: list[SafeString]

    @classmethod
    def of(cls, turn: Turn) -> "TurnSummary":
        cost = turn_cost(turn)
        return cls(
            turn=turn,
            latency=format_ms(turn.latency_ms),
            tools=tool_calls_text(turn.tool_calls),
            tokens_in=format_count(turn.input_tokens),
            tokens_out=format_count(turn.output_tokens),
            cached_share=cached_share(turn),
            cost=None if cost == EMPTY else cost,
            fallback_reason=fallback_reason_label(turn.fallback_reason) if turn.fallback_reason else "",
            price_checks=price_checks_html(turn.price_checks),
        )
