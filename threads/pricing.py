"""What the model costs: token usage as one shape, and the price table that turns it into dollars.

OpenAI bills input, cached input and output tokens at different rates (reasoning tokens are
billed as output and already counted in `output_tokens`), and transcription by the minute.
The defaults below come from OpenAI's pricing pages (checked December 2026); `OPENAI_PRICES`
(JSON, USD per 1M tokens or per minute) overrides or adds models without a release. A model
with no price has an unknown cost, never a guessed one.
"""

import functools
import json
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
SECONDS_PER_MINUTE = Decimal(60)
TOKEN_RATES = ("input", "cached_input", "output")

# USD per 1M tokens (per minute for transcription models), from OpenAI's pricing pages.
DEFAULT_PRICES: dict[str, dict[str, str]] = {
    "gpt-6-luna": {"input": "0.10", "cached_input": "0.01", "output": "0.50"},
    "gpt-6-sol": {"input": "2.00", "cached_input": "0.20", "output": "10.00"},
    "gpt-6.1-terra": {"input": "1.00", "cached_input": "0.05", "output": "5.00"},
    # Shut down on 2026-12-11; kept so the cost of past turns and comparisons stay known.
    "gpt-5-mini": {"input": "0.25", "cached_input": "0.025", "output": "2.00"},
    "gpt-transcribe": {"per_minute": "0.0045"},
    # Shut down on 2027-02-26.
    "gpt-4o-mini-transcribe": {"per_minute": "0.003"},
    "whisper-1": {"per_minute": "0.006"},
}


@dataclass(frozen=True)
class Usage:
    """Tokens one or more model requests used. `output_tokens` includes `reasoning_tokens`."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )

    def __bool__(self) -> bool:
        return bool(self.input_tokens or self.output_tokens)

    @classmethod
    def from_api(cls, usage: Any) -> "Usage":
        """Read a Responses (`input_tokens`) or Assistants run (`prompt_tokens`) usage object; None is empty."""
        if usage is None:
            return cls()
        input_tokens = _int(getattr(usage, "input_tokens", None) or getattr(usage, "prompt_tokens", None))
        output_tokens = _int(getattr(usage, "output_tokens", None) or getattr(usage, "completion_tokens", None))
        input_details = getattr(usage, "input_tokens_details", None) or getattr(usage, "prompt_tokens_details", None)
        output_details = getattr(usage, "output_tokens_details", None) or getattr(
            usage, "completion_tokens_details", None
        )
        return cls(
            input_tokens=input_tokens,
            cached_input_tokens=min(input_tokens, _int(getattr(input_details, "cached_tokens", None))),
            output_tokens=output_tokens,
            reasoning_tokens=min(output_tokens, _int(getattr(output_details, "reasoning_tokens", None))),
        )


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens; `per_minute` for transcription models (then the token rates are None)."""

    input: Decimal | None = None
    cached_input: Decimal | None = None
    output: Decimal | None = None
    per_minute: Decimal | None = None

    def cost(self, usage: Usage) -> Decimal | None:
        """Return what `usage` costs in USD, or None when this is not a token price."""
        if self.input is None or self.output is None:
            return None
        cached_rate = self.cached_input if self.cached_input is not None else self.input
        uncached = max(0, usage.input_tokens - usage.cached_input_tokens)
        total = uncached * self.input + usage.cached_input_tokens * cached_rate + usage.output_tokens * self.output
        return total / MILLION


def get_model_price(model: str) -> ModelPrice | None:
    """Return the price of `model` (an exact id first, then a dated snapshot's base id), or None."""
    table = price_table()
    if model in table:
        return table[model]
    base = _undated(model)
    return table.get(base) if base else None


def cost_usd(model: str, usage: Usage) -> Decimal | None:
    """Return what `usage` of `model` costs in USD; None when the model has no token price."""
    price = get_model_price(model)
    return price.cost(usage) if price else None


def transcription_cost_usd(model: str, seconds: float) -> Decimal | None:
    """Return what transcribing `seconds` of audio with `model` costs; None when it has no per-minute price."""
    price = get_model_price(model)
    if price is None or price.per_minute is None:
        return None
    return price.per_minute * Decimal(str(seconds)) / SECONDS_PER_MINUTE


def price_table() -> dict[str, ModelPrice]:
    """Return the default prices with OPENAI_PRICES applied on top (invalid entries are skipped)."""
    return _price_table(json.dumps(settings.OPENAI_PRICES, sort_keys=True, default=str))


def validate_prices(raw: Any) -> list[str]:
    """Return what is wrong with an OPENAI_PRICES value (empty when it is usable)."""
    if not isinstance(raw, dict):
        return ["OPENAI_PRICES must be a JSON object of model → prices"]
    problems = []
    for model, entry in raw.items():
        try:
            _parse_entry(entry)
        except ValueError as exc:
            problems.append(f"{model}: {exc}")
    return problems


@functools.lru_cache(maxsize=4)
def _price_table(raw_json: str) -> dict[str, ModelPrice]:
    table = {model: _parse_entry(entry) for model, entry in DEFAULT_PRICES.items()}
    overrides = json.loads(raw_json)
    if not isinstance(overrides, dict):
        logger.error("OPENAI_PRICES is not a JSON object; using the default prices")
        return table
    for model, entry in overrides.items():
        try:
            table[str(model)] = _parse_entry(entry)
        except ValueError as exc:
            logger.error("OPENAI_PRICES entry for %s ignored: %s", model, exc)
    return table


def _parse_entry(entry: Any) -> ModelPrice:
    if not isinstance(entry, dict) or not entry:
        raise ValueError('expected an object such as {"input": 0.10, "cached_input": 0.01, "output": 0.50}')
    unknown = sorted(set(entry) - {*TOKEN_RATES, "per_minute"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; use input, cached_input, output or per_minute")
    rates = {key: _rate(key, value) for key, value in entry.items()}
    if "per_minute" not in rates and not {"input", "output"} <= rates.keys():
        raise ValueError("a token price needs both input and output (cached_input is optional)")
    return ModelPrice(**rates)


def _rate(key: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number")
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{key} must be a number, got {value!r}") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"{key} must be a non-negative number, got {value!r}")
    return rate


def _undated(model: str) -> str | None:
    """`gpt-6-luna-2026-09-22` → `gpt-6-luna`: a snapshot is priced like its model."""
    parts = model.rsplit("-", 3)
    if len(parts) == 4 and all(part.isdigit() for part in parts[1:]) and len(parts[1]) == 4:
        return parts[0]
    return None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
