"""Replay past user messages through a model configuration, to try a model or prompt before switching.

Each conversation runs in a fresh remote conversation that no user is mapped to, and is
deleted afterwards. Replay talks to the adapter only: it never goes through the conversation
service, so nothing is sent to anyone and no message, turn or mapping row is written. The
price check runs on the model's raw reply (the live service would ask the model to correct a
wrong amount; replay only counts it).
"""

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from courses.selectors import get_course_amounts

from .adapter import ModelConfig, default_model_config, get_adapter
from .exceptions import ReplayError, ThreadsError
from .models import Message
from .pricecheck import check_catalogue_prices
from .pricing import Usage, cost_usd
from .tools import acting_for

logger = logging.getLogger(__name__)

REPLAY_ENGINE = "responses"
MAX_MESSAGES = 100  # per conversation of a replay file
MAX_MESSAGE_CHARS = 4096


@dataclass(frozen=True)
class ReplayConversation:
    """User messages to send one per turn, in order, in one fresh conversation."""

    id: str
    messages: list[str]


@dataclass
class TurnResult:
    """What one configuration answered to one user message (`error` set when the turn failed)."""

    reply: str = ""
    error: str = ""  # "RunFailed: …" when the turn would have been a fallback
    model: str = ""  # as OpenAI reported it
    tool_calls: list[dict] = field(default_factory=list)  # {"name", "ok", "ms"} per call
    usage: Usage = field(default_factory=Usage)
    cost_usd: Decimal | None = None  # None: failed turn, or a model without a price
    prices_found: list[str] = field(default_factory=list)
    prices_wrong: list[str] = field(default_factory=list)
    ms: int = 0

    @property
    def fallback(self) -> bool:
        return bool(self.error)

    @property
    def unpriced(self) -> bool:
        return not self.fallback and self.cost_usd is None

    def as_json(self) -> dict:
        return {
            "model": self.model,
            "reply": self.reply,
            "error": self.error or None,
            "tool_calls": self.tool_calls,
            "input_tokens": self.usage.input_tokens,
            "cached_input_tokens": self.usage.cached_input_tokens,
            "output_tokens": self.usage.output_tokens,
            "reasoning_tokens": self.usage.reasoning_tokens,
            "cost_usd": None if self.cost_usd is None else float(self.cost_usd),
            "price_check": {"found": self.prices_found, "wrong": self.prices_wrong},
            "ms": self.ms,
        }


@dataclass
class ConversationReport:
    """One conversation replayed under every configuration: `results[c][t]` is configuration c, turn t."""

    id: str
    messages: list[str]
    results: list[list[TurnResult]]
    cleanup_errors: list[str] = field(default_factory=list)  # remote conversations left behind

    def as_json(self) -> dict:
        """Return the turns with the base result under "base" and the comparison's under "compare"."""
        turns = []
        for number, message in enumerate(self.messages, start=1):
            turn: dict = {"turn": number, "message": message}
            for role, results in zip(("base", "compare"), self.results, strict=False):
                turn[role] = results[number - 1].as_json()
            turns.append(turn)
        return {"id": self.id, "turns": turns, "cleanup_errors": self.cleanup_errors}


@dataclass(frozen=True)
class ReplaySummary:
    """The totals of one configuration over every replayed turn (failed turns add no tokens or cost)."""

    model: str
    turns: int
    fallbacks: int
    tool_calls: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal  # over the priced turns only
    unpriced_turns: int
    price_violations: int  # wrong amounts over all raw replies
    mean_reply_chars: float | None  # over answered turns

    def as_json(self) -> dict:
        return {
            **dataclasses.asdict(self),
            "cost_usd": float(self.cost_usd),
            "mean_reply_chars": None if self.mean_reply_chars is None else round(self.mean_reply_chars, 1),
        }


@dataclass
class ReplayReport:
    """Every replayed conversation under the base configuration and, with a comparison, a second one."""

    configs: list[ModelConfig]
    conversations: list[ConversationReport]
    instructions_source: str = "built-in"

    @property
    def labels(self) -> list[str]:
        """Name each configuration by its model; the same model twice gets its role appended."""
        models = [config.model for config in self.configs]
        if len(set(models)) == len(models):
            return models
        return [f"{model} [{role}]" for model, role in zip(models, ("base", "compare"), strict=False)]

    def summary(self, index: int = 0) -> ReplaySummary:
        """Return the totals of configuration `index` (0: base, 1: the comparison)."""
        results = [turn for conversation in self.conversations for turn in conversation.results[index]]
        answered = [turn for turn in results if not turn.fallback]
        usage = sum((turn.usage for turn in answered), Usage())
        return ReplaySummary(
            model=self.configs[index].model,
            turns=len(results),
            fallbacks=len(results) - len(answered),
            tool_calls=sum(len(turn.tool_calls) for turn in answered),
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=sum((turn.cost_usd for turn in answered if turn.cost_usd is not None), Decimal(0)),
            unpriced_turns=sum(turn.unpriced for turn in answered),
            price_violations=sum(len(turn.prices_wrong) for turn in answered),
            mean_reply_chars=sum(len(turn.reply) for turn in answered) / len(answered) if answered else None,
        )

    def as_json(self) -> dict:
        """Return the report as one JSON-safe document: base summary on top, the comparison under `compare`."""
        return {
            "engine": REPLAY_ENGINE,
            "model": self.configs[0].model,
            "instructions": self.instructions_source,
            "conversations": [conversation.as_json() for conversation in self.conversations],
            "summary": self.summary(0).as_json(),
            "compare": (
                {"model": self.configs[1].model, "summary": self.summary(1).as_json()}
                if len(self.configs) > 1
                else None
            ),
        }


# --- sources ---------------------------------------------------------------------------------


def load_log_conversations(*, user_phone: str, since: dt.date | None = None) -> list[ReplayConversation]:
    """Return the user's inbound messages from the message log as one conversation, oldest first.

    `since` is a local date (TIME_ZONE). Messages without text (a photo, a voice note) are
    skipped: replay sends text only. Only the newest MAX_MESSAGES are replayed, so a long
    history cannot run up a bill by accident. No messages at all raises ReplayError.
    """
    messages = Message.objects.filter(
        user_phone=user_phone, direction=Message.Direction.INBOUND, origin=Message.Origin.USER
    )
    if since is not None:
        messages = messages.filter(created_at__gte=timezone.make_aware(dt.datetime.combine(since, dt.time.min)))
    texts = [body.strip() for body in messages.order_by("created_at", "id").values_list("body", flat=True)]
    texts = [text for text in texts if text][-MAX_MESSAGES:]
    if not texts:
        after = f" since {since.isoformat()}" if since else ""
        raise ReplayError(f"No text messages from {user_phone}{after} in the message log.")
    return [ReplayConversation(id=user_phone, messages=texts)]


def load_file_conversations(*, path: Path) -> list[ReplayConversation]:
    """Read a JSONL file of `{"id": "...", "messages": ["...", ...]}`, one conversation a line.

    Every line is checked before anything is sent, so a typo on line 40 costs nothing; blank
    lines are skipped. Limits: 100 messages per conversation, 4,096 characters per message.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReplayError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{path}: cannot read it as UTF-8 text ({exc}).") from None
    conversations = parse_conversation_lines(lines=text.splitlines(), source=str(path))
    if not conversations:
        raise ReplayError(f"{path}: no conversations in it.")
    return conversations


def parse_conversation_lines(*, lines: Iterable[str], source: str = "input") -> list[ReplayConversation]:
    """Parse JSONL conversation lines; the first bad one raises ReplayError naming its line number."""
    conversations = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        conversations.append(_parse_conversation(line, where=f"{source}, line {number}", number=number))
    seen: set[str] = set()
    for conversation in conversations:
        if conversation.id in seen:
            raise ReplayError(f"{source}: the id {conversation.id!r} is used by more than one conversation.")
        seen.add(conversation.id)
    return conversations


def _parse_conversation(line: str, *, where: str, number: int) -> ReplayConversation:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
    if not isinstance(data, dict):
        raise ReplayError(f'{where}: expected an object like {{"id": "...", "messages": ["..."]}}.')
    conversation_id = data.get("id", f"line-{number}")
    if not isinstance(conversation_id, str | int) or isinstance(conversation_id, bool) or not str(conversation_id):
        raise ReplayError(f'{where}: "id" must be a non-empty string.')
    messages = data.get("messages")
    if messages is None:
        raise ReplayError(f'{where}: "messages" is missing.')
    if not isinstance(messages, list) or not messages:
        raise ReplayError(f'{where}: "messages" must be a non-empty list of strings.')
    if len(messages) > MAX_MESSAGES:
        raise ReplayError(f"{where}: {len(messages)} messages; a conversation holds at most {MAX_MESSAGES}.")
    for index, message in enumerate(messages, start=1):
        if not isinstance(message, str):
            raise ReplayError(f"{where}: message {index} is not a string.")
        if not message.strip():
            raise ReplayError(f"{where}: message {index} is empty.")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ReplayError(
                f"{where}: message {index} has {len(message):,} characters; the limit is {MAX_MESSAGE_CHARS:,}."
            )
    return ReplayConversation(id=str(conversation_id), messages=[message.strip() for message in messages])


# --- configuration ---------------------------------------------------------------------------


def check_engine(*, engine: str) -> None:
    """Refuse any engine but `responses`: a legacy assistant's model and instructions live at OpenAI."""
    if engine == REPLAY_ENGINE:
        return
    if engine == "assistants":
        raise ReplayError(
            "Replay needs the responses engine: with the assistants engine the model and instructions live on "
            "the remote assistant (ASSISTANT_ID), so --model, --instructions and --compare could not change them. "
            "Run without --engine (or with --engine responses)."
        )
    raise ReplayError(f"Unknown engine {engine!r}; replay runs on the {REPLAY_ENGINE} engine.")


def read_instructions(*, path: Path) -> str:
    """Return the instructions in a UTF-8 text file; a missing or empty file raises ReplayError."""
    try:
        text = path.read_text(encoding="utf-8-sig").strip()
    except FileNotFoundError:
        raise ReplayError(f"Instructions file {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"Instructions file {path}: cannot read it as UTF-8 text ({exc}).") from None
    if not text:
        raise ReplayError(f"Instructions file {path} is empty.")
    return text


def build_configs(
    *, model: str | None = None, instructions: str | None = None, compare_model: str | None = None
) -> list[ModelConfig]:
    """Return the base configuration (the settings with `model` and `instructions` swapped in), then the comparison.

    The comparison differs from the base only by its model, so the columns compare models alone.
    """
    base = default_model_config()
    base = dataclasses.replace(base, model=model or base.model, instructions=instructions or base.instructions)
    configs = [base]
    if compare_model:
        configs.append(dataclasses.replace(base, model=compare_model))
    return configs


# --- running ---------------------------------------------------------------------------------


def run_replay(
    *,
    conversations: Sequence[ReplayConversation],
    configs: Sequence[ModelConfig],
    instructions_source: str = "built-in",
    progress: Callable[[str], None] | None = None,
) -> ReplayReport:
    """Replay every conversation under each configuration and return the report.

    A failed turn is recorded as a fallback and the conversation goes on with its next
    message, as the live bot would. `progress` gets one line per finished conversation.
    """
    adapters = [get_adapter(engine=REPLAY_ENGINE, config=config) for config in configs]
    amounts = get_course_amounts()
    report = ReplayReport(configs=list(configs), conversations=[], instructions_source=instructions_source)
    labels = report.labels
    total = len(conversations)
    for index, conversation in enumerate(conversations, start=1):
        outcome = ConversationReport(id=conversation.id, messages=list(conversation.messages), results=[])
        for config, adapter in zip(configs, adapters, strict=True):
            outcome.results.append(
                _replay_conversation(conversation, adapter=adapter, config=config, amounts=amounts, report=outcome)
            )
        report.conversations.append(outcome)
        if progress is not None:
            progress(_progress_line(outcome, index=index, total=total, labels=labels))
    return report


def _replay_conversation(conversation, *, adapter, config: ModelConfig, amounts, report: ConversationReport):
    """Run the messages one per turn in a fresh, unmapped conversation, deleted afterwards."""
    try:
        thread_id = adapter.create_thread()
    except ThreadsError as exc:
        logger.warning("replay %s: could not create a conversation: %s", conversation.id, exc)
        return [TurnResult(error=_describe(exc), model=config.model) for _ in conversation.messages]
    try:
        return [
            _replay_turn(adapter, thread_id, text, config=config, amounts=amounts) for text in conversation.messages
        ]
    finally:
        try:
            adapter.delete_thread(thread_id)
        except ThreadsError as exc:
            logger.warning("replay %s: could not delete %s: %s", conversation.id, thread_id, exc)
            report.cleanup_errors.append(f"{thread_id}: {_describe(exc)}")


def _replay_turn(adapter, thread_id: str, text: str, *, config: ModelConfig, amounts) -> TurnResult:
    started = time.monotonic()
    try:
        # Tools run for real here; acting for nobody, `solicitar_asesor` pauses no one and e-mails no staff.
        with acting_for(user_phone=None):
            result = adapter.run_turn(thread_id, [text])
    except ThreadsError as exc:
        return TurnResult(error=_describe(exc), model=config.model, ms=_ms_since(started))
    check = check_catalogue_prices(result.text, amounts).as_record()
    return TurnResult(
        reply=result.text,
        model=result.model or config.model,
        tool_calls=result.tool_calls,
        usage=result.usage,
        cost_usd=cost_usd(result.model or config.model, result.usage),
        prices_found=check["found"],
        prices_wrong=check["wrong"],
        ms=_ms_since(started),
    )


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _progress_line(conversation: ConversationReport, *, index: int, total: int, labels: list[str]) -> str:
    parts = []
    for label, results in zip(labels, conversation.results, strict=True):
        fallbacks = sum(turn.fallback for turn in results)
        wrong = sum(len(turn.prices_wrong) for turn in results)
        costs = [turn.cost_usd for turn in results if turn.cost_usd is not None]
        cost = f"${sum(costs, Decimal(0)):.4f}" + ("+?" if any(turn.unpriced for turn in results) else "")
        parts.append(f"{label}: {cost}, {fallbacks} fallbacks, {wrong} wrong prices")
    count = len(conversation.messages)
    line = f"[{index}/{total}] {conversation.id} ({count} message{'' if count == 1 else 's'}): " + "; ".join(parts)
    if conversation.cleanup_errors:
        line += f"; NOT DELETED: {', '.join(conversation.cleanup_errors)}"
    return line


# --- the text report -------------------------------------------------------------------------

_SINGLE = {"message": 30, "reply": 48, "tools": 16, "tokens": 17, "cost": 10, "prices": 18}
_COMPARED = {"message": 24, "reply": 34, "tools": 14, "tokens": 15, "cost": 10, "prices": 14}
_RESULT_COLUMNS = ("reply", "tools", "tokens", "cost", "prices")
_RESULT_HEADERS = {"reply": "reply", "tools": "tools", "tokens": "in/cached/out", "cost": "cost", "prices": "prices"}


def render_report(report: ReplayReport) -> str:
    """Return the report as text: a table per conversation, then a summary per configuration."""
    widths = _COMPARED if len(report.configs) > 1 else _SINGLE
    lines = [
        f"Replay on the {REPLAY_ENGINE} engine; instructions: {report.instructions_source}; "
        f"configurations: {', '.join(report.labels)}",
        "",
    ]
    for conversation in report.conversations:
        lines += _render_conversation(conversation, labels=report.labels, widths=widths)
        lines.append("")
    lines += _render_summary(report)
    return "\n".join(lines)


def _render_conversation(conversation: ConversationReport, *, labels: list[str], widths: dict) -> list[str]:
    group_width = sum(widths[column] for column in _RESULT_COLUMNS) + 2 * (len(_RESULT_COLUMNS) - 1)
    lead = f"{'#':>3}  {_cell('user message', widths['message'])}"
    title_row = " " * len(lead) + "".join(f" │ {_cell(label, group_width)}" for label in labels)
    header_row = lead + "".join(
        " │ " + "  ".join(_cell(_RESULT_HEADERS[column], widths[column]) for column in _RESULT_COLUMNS) for _ in labels
    )
    count = len(conversation.messages)
    title = f"== {conversation.id} ({count} message{'' if count == 1 else 's'}) =="
    lines = [title, title_row.rstrip(), header_row.rstrip()]
    for number, message in enumerate(conversation.messages, start=1):
        row = f"{number:>3}  {_cell(message, widths['message'])}"
        for results in conversation.results:
            cells = _result_cells(results[number - 1])
            row += " │ " + "  ".join(_cell(cells[column], widths[column]) for column in _RESULT_COLUMNS)
        lines.append(row.rstrip())
    for error in conversation.cleanup_errors:
        lines.append(f"  not deleted at OpenAI (delete it by hand): {error}")
    return lines


def _result_cells(turn: TurnResult) -> dict[str, str]:
    if turn.fallback:
        return {"reply": f"FALLBACK {turn.error}", "tools": "-", "tokens": "-", "cost": "-", "prices": "-"}
    tools = ", ".join(call.get("name", "?") + ("" if call.get("ok", True) else "!") for call in turn.tool_calls)
    usage = turn.usage
    if turn.prices_wrong:
        prices = "WRONG " + ", ".join(turn.prices_wrong)
    elif turn.prices_found:
        prices = f"ok ({len(turn.prices_found)})"
    else:
        prices = "-"
    return {
        "reply": turn.reply,
        "tools": tools or "-",
        "tokens": f"{usage.input_tokens}/{usage.cached_input_tokens}/{usage.output_tokens}",
        "cost": "?" if turn.cost_usd is None else f"${turn.cost_usd:.5f}",
        "prices": prices,
    }


def _render_summary(report: ReplayReport) -> list[str]:
    summaries = [report.summary(index) for index in range(len(report.configs))]
    rows: list[tuple[str, Callable[[ReplaySummary], str]]] = [
        ("turns", lambda s: f"{s.turns:,}"),
        ("fallbacks (failed turns)", lambda s: f"{s.fallbacks:,}"),
        ("tool calls", lambda s: f"{s.tool_calls:,}"),
        ("tokens in", lambda s: f"{s.input_tokens:,}"),
        ("  of them cached", lambda s: f"{s.cached_input_tokens:,}"),
        ("tokens out", lambda s: f"{s.output_tokens:,}"),
        ("  of them reasoning", lambda s: f"{s.reasoning_tokens:,}"),
        ("cost (USD, priced turns)", lambda s: f"${s.cost_usd:.6f}"),
        ("unpriced turns", lambda s: f"{s.unpriced_turns:,}"),
        ("price violations", lambda s: f"{s.price_violations:,}"),
        ("mean reply length (chars)", lambda s: "-" if s.mean_reply_chars is None else f"{s.mean_reply_chars:,.0f}"),
    ]
    label_width = max(len(label) for label, _ in rows)
    column_width = max(14, *(len(label) for label in report.labels))
    lines = ["Summary".ljust(label_width) + "".join(f"  {label:>{column_width}}" for label in report.labels)]
    for label, value in rows:
        lines.append(label.ljust(label_width) + "".join(f"  {value(s):>{column_width}}" for s in summaries))
    left_behind = sum(len(conversation.cleanup_errors) for conversation in report.conversations)
    if left_behind:
        lines.append(f"{left_behind} remote conversation(s) could not be deleted; see the tables above.")
    return lines


def _cell(text: str, width: int) -> str:
    """Fit `text` on one line of `width` characters: whitespace collapsed, an ellipsis where it is cut."""
    flat = " ".join(str(text).split())
    if len(flat) > width:
        flat = flat[: width - 1] + "…"
    return flat.ljust(width)
