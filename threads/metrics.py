"""Selectors for `GET /metrics`: turn, token, cost and message figures, and their Prometheus text.

Every figure is read from the database on each scrape, never kept in process memory, so
gunicorn workers on any number of hosts report the same numbers. Three aggregate queries
cover everything: one over turns, one for fallback reasons, one over messages.
"""

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from django.db.models import Count, Q, Sum

from .models import ANSWERED_STATUSES, LIMIT_REASON_PREFIX, OPEN_STATUSES, Message, Turn

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Upper bounds in seconds; a turn waits on the model (and its tools), hence the wide range.
LATENCY_BUCKETS_S = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0)
TOKEN_KINDS = ("input", "cached_input", "output", "reasoning")
UNKNOWN_REASON = "unknown"

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Sample:
    """One line of the exposition: a full sample name (suffix included), its labels and value."""

    name: str
    value: int | float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricFamily:
    """A metric with its `# HELP` and `# TYPE` lines and all its samples."""

    name: str
    type: Literal["counter", "gauge", "histogram"]
    help: str
    samples: list[Sample]


def collect_metrics() -> list[MetricFamily]:
    """Read every figure from the database and return the metric families of one scrape."""
    totals = _turn_totals()
    return [
        MetricFamily(
            "brenda_turns_total",
            "counter",
            "Finished turns (processed batches of inbound messages) by outcome.",
            [
                Sample("brenda_turns_total", totals[f"status_{status}"], {"outcome": status})
                for status in Turn.Status.values
                if status not in OPEN_STATUSES
            ],
        ),
        MetricFamily(
            "brenda_turns_in_progress",
            "gauge",
            "Turns at work now: running in a worker, or waiting for OpenAI in background mode.",
            [
                Sample("brenda_turns_in_progress", totals[f"status_{status}"], {"state": status})
                for status in OPEN_STATUSES
            ],
        ),
        MetricFamily(
            "brenda_fallbacks_total",
            "counter",
            "Turns answered by the fallback responder, by reason (limit_* when a budget kept the model out).",
            [
                Sample("brenda_fallbacks_total", count, {"reason": reason})
                for reason, count in sorted(_fallback_reasons().items())
            ],
        ),
        MetricFamily(
            "brenda_limited_turns_total",
            "counter",
            "Turns a daily turn or cost limit kept from the model.",
            [Sample("brenda_limited_turns_total", totals["limited"])],
        ),
        MetricFamily(
            "brenda_turn_latency_seconds",
            "histogram",
            "Time from a turn's start to its reply, for answered turns (completed or fallback).",
            histogram_samples(
                "brenda_turn_latency_seconds",
                buckets=[(bound, totals[f"latency_le_{index}"]) for index, bound in enumerate(LATENCY_BUCKETS_S)],
                count=totals["latency_count"],
                total=(totals["latency_sum_ms"] or 0) / 1000,
            ),
        ),
        MetricFamily(
            "brenda_tokens_total",
            "counter",
            "Tokens used by OpenAI responses: cached_input is part of input, reasoning part of output.",
            [Sample("brenda_tokens_total", totals[f"tokens_{kind}"] or 0, {"kind": kind}) for kind in TOKEN_KINDS],
        ),
        MetricFamily(
            "brenda_cost_usd_total",
            "counter",
            "Estimated OpenAI cost in US dollars (OPENAI_PRICES); turns of unpriced models add nothing.",
            [Sample("brenda_cost_usd_total", float(totals["cost_usd_sum"] or 0))],
        ),
        MetricFamily(
            "brenda_turns_unpriced_total",
            "counter",
            "Finished turns with a model but no cost: the model has no price (OPENAI_PRICES) or reported no usage.",
            [Sample("brenda_turns_unpriced_total", totals["unpriced"])],
        ),
        MetricFamily(
            "brenda_messages_total",
            "counter",
            "WhatsApp messages received (in) and sent (out).",
            [Sample("brenda_messages_total", count, {"direction": direction}) for direction, count in _messages()],
        ),
    ]


def _turn_totals() -> dict:
    """Count and sum everything about turns in one aggregate query."""
    answered = Q(status__in=ANSWERED_STATUSES, latency_ms__isnull=False)
    aggregates: dict[str, Count | Sum] = {
        f"status_{status}": Count("pk", filter=Q(status=status)) for status in Turn.Status.values
    }
    aggregates |= {
        f"latency_le_{index}": Count("pk", filter=answered & Q(latency_ms__lte=round(bound * 1000)))
        for index, bound in enumerate(LATENCY_BUCKETS_S)
    }
    aggregates |= {f"tokens_{kind}": Sum(f"{kind}_tokens") for kind in TOKEN_KINDS}
    return Turn.objects.aggregate(
        **aggregates,
        limited=Count("pk", filter=Q(fallback_reason__startswith=LIMIT_REASON_PREFIX)),
        latency_count=Count("pk", filter=answered),
        latency_sum_ms=Sum("latency_ms", filter=answered),
        cost_usd_sum=Sum("cost_usd"),
        unpriced=Count("pk", filter=~Q(model="") & Q(cost_usd__isnull=True) & ~Q(status__in=OPEN_STATUSES)),
    )


def _fallback_reasons() -> Counter[str]:
    rows = (
        Turn.objects.filter(Q(fallback_used=True) | Q(status=Turn.Status.FALLBACK))
        .values("fallback_reason")
        .annotate(count=Count("pk"))
        .order_by()
    )
    reasons: Counter[str] = Counter()
    for row in rows:
        # Summed, not assigned: "" and a literal "unknown" share a label.
        reasons[row["fallback_reason"] or UNKNOWN_REASON] += row["count"]
    return reasons


def _messages() -> list[tuple[str, int]]:
    counts = Message.objects.aggregate(
        **{direction: Count("pk", filter=Q(direction=direction)) for direction in Message.Direction.values}
    )
    return [(direction, counts[direction]) for direction in Message.Direction.values]


def histogram_samples(name: str, *, buckets: Iterable[tuple[float, int]], count: int, total: float) -> list[Sample]:
    """Return a histogram's `_bucket` (cumulative, `+Inf` last), `_sum` and `_count` samples."""
    samples = [Sample(f"{name}_bucket", cumulative, {"le": format_value(bound)}) for bound, cumulative in buckets]
    samples.append(Sample(f"{name}_bucket", count, {"le": "+Inf"}))
    samples.append(Sample(f"{name}_sum", total))
    samples.append(Sample(f"{name}_count", count))
    return samples


def render_prometheus_text(families: Iterable[MetricFamily]) -> str:
    """Write families in the Prometheus text exposition format 0.0.4."""
    lines = []
    for family in families:
        if not _NAME.match(family.name):
            raise ValueError(f"invalid metric name {family.name!r}")
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines.extend(_render_sample(sample) for sample in family.samples)
    return "\n".join(lines) + "\n"


def _render_sample(sample: Sample) -> str:
    if not _NAME.match(sample.name):
        raise ValueError(f"invalid sample name {sample.name!r}")
    if not sample.labels:
        return f"{sample.name} {format_value(sample.value)}"
    for label in sample.labels:
        if not _LABEL_NAME.match(label) or label.startswith("__"):
            raise ValueError(f"invalid label name {label!r}")
    labels = ",".join(f'{label}="{escape_label_value(value)}"' for label, value in sample.labels.items())
    return f"{sample.name}{{{labels}}} {format_value(sample.value)}"


def escape_label_value(value: str) -> str:
    """Escape a label value: backslash, double quote and line feed are the format's only escapes."""
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def format_value(value: int | float) -> str:
    """Write a number as Prometheus reads it: integers plainly, floats in Go's spelling of infinities."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
