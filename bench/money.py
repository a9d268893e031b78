"""Bench 4: what the model costs and what guarding prices costs, in process against the fake OpenAI.

Three measurements (tables 4 and 4b, 4c, 4d):

1. **Cached-input share over a 10-turn conversation.** One user writes 10 Spanish messages in a
   row through the real service (`record_inbound`, then `process_user_messages(user_phone=...)`,
   replies to the in-memory outbox), with the fake OpenAI served on 127.0.0.1. The fake
   simulates OpenAI's prompt caching per `prompt_cache_key` (1,024-token minimum, 128-token
   blocks, byte-identical prefix). The baseline is the same conversation with caching
   defeated: the instructions start with a timestamp that changes every turn, which is what
   the design forbids (the instructions, then the tools, must open every request unchanged).
2. **Cost per 100 returning-user turns**, the usage summed from `Turn` rows and priced with the
   default model (`OPENAI_MODEL`) and with gpt-5-mini, the baseline.
3. **Price fact-check time per reply**: `check_prices` (with `courses=`, as `vet_prices` runs
   it) on a ~1,600-character reply with 8 amounts, against `to_whatsapp` on the same reply (a
   step every reply already pays).

Token counts come from the fake (about 4 characters per token), so the dollar figures show the
price ratio and the effect of caching, not a real bill.
"""

import contextlib
import logging
import math
import timeit
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

from .common import demo_test_database, fmt, print_table, ratio, say

logger = logging.getLogger(__name__)

BASELINE_MODEL = "gpt-5-mini"
CACHED_SHARE_TARGET = 0.5  # over turns 2-10 of the conversation
CHECK_TARGET_S = 0.001  # price check per reply
RETURNING_TURNS_PER_USER = 10

# Table 1: one user, ten messages in a row: greetings, catalogue questions (the fake calls
# `buscar_curso` when a message names a course, a topic or a level) and follow-ups.
CONVERSATION = (
    "Hola, buenas tardes, me llamo Carla 👋",
    "¿Qué cursos de inteligencia artificial tienen para principiantes?",
    "¿Cuántas sesiones son y en qué horario se dan?",
    "Oye, y de marketing ¿tienen algo? Tengo una tienda en línea",
    "¿Se puede pagar en meses sin intereses o con transferencia?",
    "Me interesa también aprender Python, ¿hay algo intermedio?",
    "¿Las clases quedan grabadas? Es que trabajo por las tardes",
    "¿Dan constancia o certificado al terminar?",
    "Ok, ¿y el de automatización para mi negocio cuánto cuesta?",
    "Perfecto, muchas gracias. Lo platico con mi socio y te escribo 🙌",
)
# Table 2: what returning users write after their first message (cycled).
RETURNING = (
    "¿Tienen cursos de machine learning?",
    "¿Cuánto cuesta el curso?",
    "¿Hay descuento si me inscribo con un amigo?",
    "¿Qué necesito saber antes de empezar?",
    "Busco algo de análisis de datos, nivel intermedio",
    "¿Cuándo empieza el siguiente grupo?",
    "¿Y de ética de la IA?",
    "¿Puedo pagar con tarjeta?",
    "¿Tienen cursos avanzados de deep learning?",
    "Gracias, lo pienso y te aviso",
)

# Table 3: a reply as the model writes it (Markdown, before `to_whatsapp`), 8 amounts in varied
# formats, all catalogue prices or bonus values of the demo catalogue, among dates, times,
# session counts, hours, a percentage and a phone number, which are not money.
REPLY = (
    "¡Hola, Carla! 😊 Con gusto te paso las opciones que mejor encajan con lo que me contaste "
    "de tu tienda en línea:\n\n"
    "1. **IA generativa para marketing** (intermedio): 7 sesiones en vivo, martes y jueves de "
    "19:00 a 21:00 h, del 9 de marzo al 1 de abril de 2027. Inversión: **$4,590 MXN**. Incluye "
    "el Kit de plantillas para redes sociales (valor de $690 MXN) y una Sesión de revisión de tu "
    "campaña (valor de $1,200 MXN).\n"
    "2. **Prompt engineering: comunica mejor con la IA** (principiante): 5 sesiones de 2 horas. "
    "Precio: $1.490, y te regalamos las Plantillas de prompts para ventas, "
    "con valor de 350 MXN.\n"
    "3. **MLOps: modelos de IA en la nube** (avanzado): 5 módulos en línea a tu ritmo, con "
    "acceso por 12 meses. Cuesta USD 349 e incluye un descuento de US$45 en la certificación.\n"
    "4. **Análisis de datos con IA** (intermedio): 6 sesiones, del 13/04/2027 al 18/05/2027; "
    "su precio es 5.490,00 MXN.\n\n"
    "Las clases quedan grabadas y puedes verlas durante 6 meses, así que no te preocupes si "
    "trabajas por las tardes. El 92% de nuestros alumnos termina su curso y recibe constancia "
    "con valor curricular. Todos los cursos incluyen acceso a la comunidad de alumnos y una sesión "
    "de dudas cada 15 días; si te inscribes antes del 26 de febrero, te apartamos el lugar sin costo "
    "adicional y puedes cambiarte de grupo una vez.\n\n"
    "¿Te gustaría que te aparte un lugar en el grupo de marzo? Quedan 8 lugares. Si prefieres "
    "hablar con un asesor, llámanos o escríbenos al +52 55 4321 8765, de lunes a viernes de "
    "9:00 a 18:00 h. ¡Con gusto te ayudamos a elegir el curso que más te conviene para crecer "
    "tu negocio este año! 🚀"
)
REPLY_AMOUNTS = 8
# The same reply with two wrong amounts: a price that is not the course's, a bonus in the wrong currency.
WRONG_REPLY = REPLY.replace("**$4,590 MXN**", "**$4,290 MXN**").replace("USD 349", "USD 399")
REPLY_WRONG = 2


@dataclass
class TurnUsage:
    """One turn's usage, as the service recorded it on its `Turn` row."""

    turn: int
    text: str
    tool_calls: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal | None
    model: str
    reply_origin: str  # "assistant", or "fallback" when the turn failed

    @property
    def cached_share(self) -> float | None:
        return self.cached_input_tokens / self.input_tokens if self.input_tokens else None


# --- running turns through the service -------------------------------------------------------


@contextlib.contextmanager
def service_settings(base_url: str) -> Iterator[None]:
    """The settings of bench 1 (responses engine, locmem outbox, immediate tasks), model and effort left as set."""
    from django.test import override_settings

    with override_settings(
        OPENAI_API_KEY="sk-bench",
        OPENAI_BASE_URL=base_url,
        OPENAI_ENGINE="responses",
        OPENAI_BACKGROUND=False,
        OPENAI_MAX_RETRIES=0,
        OPENAI_RUN_TIMEOUT_S=30,
        MESSAGING_BACKEND="messaging.backends.LocmemBackend",
        TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}},
    ):
        yield


@contextlib.contextmanager
def varying_instructions() -> Iterator[None]:
    """Defeat prompt caching the way the design forbids: a timestamp before the instructions, on every call.

    `threads.adapter` imported `load_instructions` by name, so it is patched there (and in
    `threads.prompts`, for any other caller). The service calls it once per turn (when it builds
    the adapter's model config), so the two requests of a tool turn share one stamp.
    """
    from threads import adapter, prompts

    original = prompts.load_instructions

    def stamped() -> str:
        return f"Fecha y hora actual: {datetime.now(UTC).isoformat(timespec='microseconds')}\n\n{original()}"

    with (
        mock.patch.object(adapter, "load_instructions", stamped),
        mock.patch.object(prompts, "load_instructions", stamped),
    ):
        yield


def _phone(tag: str, user: int) -> str:
    return f"whatsapp:+5216{int(tag, 16) % 10**6:06d}{user:04d}"


def _send(phone: str, sid: str, text: str, number: int) -> TurnUsage:
    """One turn through the service; return the usage its Turn row recorded."""
    from threads import message_log
    from threads.models import Message, Turn
    from threads.services import process_user_messages

    message_log.record_inbound(user_phone=phone, twilio_sid=sid, body=text)
    process_user_messages(user_phone=phone)
    turn = Turn.objects.filter(user_phone=phone).latest("pk")
    reply = Message.objects.filter(turn=turn, direction=Message.Direction.OUTBOUND).order_by("pk").first()
    return TurnUsage(
        turn=number,
        text=text,
        tool_calls=len(turn.tool_calls),
        input_tokens=turn.input_tokens or 0,
        cached_input_tokens=turn.cached_input_tokens or 0,
        output_tokens=turn.output_tokens or 0,
        reasoning_tokens=turn.reasoning_tokens or 0,
        cost_usd=turn.cost_usd,
        model=turn.model,
        reply_origin=reply.origin if reply else "none",
    )


def measure_conversation(messages: Sequence[str] = CONVERSATION, *, defeat_cache: bool = False) -> list[TurnUsage]:
    """One new user sends `messages` in a row; return each turn's usage (needs a migrated database)."""
    from tests.fakes.openai import FakeOpenAI

    fake = FakeOpenAI()
    base_url = fake.serve()
    tag = uuid.uuid4().hex[:8]
    phone = _phone(tag, 1 if defeat_cache else 0)
    try:
        with service_settings(base_url), varying_instructions() if defeat_cache else contextlib.nullcontext():
            return [
                _send(phone, f"SMmoney{tag}c{int(defeat_cache)}{number:03d}", text, number)
                for number, text in enumerate(messages, start=1)
            ]
    finally:
        fake.stop()


def measure_returning_turns(turns: int, *, per_user: int = RETURNING_TURNS_PER_USER) -> list[TurnUsage]:
    """`turns` returning-user turns (users of `per_user` turns each, after a first message not counted)."""
    from tests.fakes.openai import FakeOpenAI

    fake = FakeOpenAI()
    base_url = fake.serve()
    tag = uuid.uuid4().hex[:8]
    samples: list[TurnUsage] = []
    try:
        with service_settings(base_url):
            for user in range(math.ceil(turns / per_user)):
                phone = _phone(tag, 100 + user)
                _send(phone, f"SMmoney{tag}r{user:03d}000", f"Hola, me llamo Usuario {user + 1}", 0)
                for number in range(1, min(per_user, turns - len(samples)) + 1):
                    text = RETURNING[(user + number - 1) % len(RETURNING)]
                    samples.append(_send(phone, f"SMmoney{tag}r{user:03d}{number:03d}", text, number))
    finally:
        fake.stop()
    return samples


def total_usage(samples: Sequence[TurnUsage]):
    from threads.pricing import Usage

    return sum(
        (
            Usage(
                input_tokens=s.input_tokens,
                cached_input_tokens=s.cached_input_tokens,
                output_tokens=s.output_tokens,
                reasoning_tokens=s.reasoning_tokens,
            )
            for s in samples
        ),
        Usage(),
    )


def _share(samples: Sequence[TurnUsage]) -> float | None:
    usage = total_usage(samples)
    return usage.cached_input_tokens / usage.input_tokens if usage.input_tokens else None


def _cost(samples: Sequence[TurnUsage]) -> Decimal | None:
    costs = [s.cost_usd for s in samples]
    return None if not costs or any(c is None for c in costs) else sum(costs, Decimal(0))


def _usd(value: Decimal | float | None, digits: int = 6) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _met(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "NOT met")


# --- table 1 ---------------------------------------------------------------------------------


def report_conversation(cached: list[TurnUsage], defeated: list[TurnUsage]) -> dict:
    from django.conf import settings

    rows = []
    for mine, base in zip(cached, defeated, strict=True):
        text = mine.text if len(mine.text) <= 34 else mine.text[:33] + "…"
        rows.append(
            [
                str(mine.turn),
                text,
                str(mine.tool_calls),
                str(mine.input_tokens),
                str(mine.cached_input_tokens),
                fmt(mine.cached_share, 2),
                _usd(mine.cost_usd),
                str(base.input_tokens),
                str(base.cached_input_tokens),
                fmt(base.cached_share, 2),
                _usd(base.cost_usd),
            ]
        )
    fallbacks = sum(s.reply_origin != "assistant" for s in (*cached, *defeated))
    model = cached[0].model if cached else "-"
    print_table(
        "4. Cached input per turn, one user, 10 messages in a row  (baseline = instructions stamped per turn)",
        [
            "#",
            "user writes",
            "tools",
            "input",
            "cached",
            "share",
            "cost USD",
            "base in",
            "base cached",
            "share",
            "cost USD",
        ],
        rows,
        align="rlrrrrrrrrr",
        notes=[
            f"model {model} (OPENAI_MODEL), reasoning effort {settings.OPENAI_REASONING_EFFORT or '(default)'}; "
            "input/cached/cost from the Turn rows; tools = buscar_curso calls (a tool turn makes 2 requests)",
            "baseline: the same conversation, another user, load_instructions() returning "
            "'Fecha y hora actual: <now>' + the instructions (what the design forbids); it is called once per turn, "
            "so only the 2nd request of a tool turn hits the cache",
            "fake OpenAI caching: per (model, prompt_cache_key), byte-identical prefix in 128-token blocks, "
            "from 1,024 tokens; tokens ~ 4 chars each" + (f"; {fallbacks} FALLBACK turn(s)!" if fallbacks else ""),
        ],
    )
    later_mine, later_base = cached[1:], defeated[1:]
    share_later, base_later = _share(later_mine), _share(later_base)
    share_all, base_all = _share(cached), _share(defeated)
    cost_mine, cost_base = _cost(cached), _cost(defeated)
    met = None if share_later is None else share_later >= CACHED_SHARE_TARGET
    last = len(cached)
    summary = [
        [
            f"cached share, turns 2-{last}",
            fmt(share_later, 2),
            fmt(base_later, 2),
            _ratio_cell(share_later, base_later),
            f">= {CACHED_SHARE_TARGET}",
            _met(met),
        ],
        [
            f"cached share, turns 1-{last}",
            fmt(share_all, 2),
            fmt(base_all, 2),
            _ratio_cell(share_all, base_all),
            "",
            "",
        ],
        [
            f"cost USD, turns 1-{last}",
            _usd(cost_mine),
            _usd(cost_base),
            _ratio_cell(_float(cost_mine), _float(cost_base)),
            "",
            "",
        ],
    ]
    print_table(
        "4b. Conversation summary  (ratio = as designed / baseline)",
        ["", "as designed", "baseline", "ratio", "target", ""],
        summary,
        align="lrrrrl",
        notes=["cached share = cached input tokens / input tokens, summed over the turns"],
    )
    return {
        "turns": [_turn_dict(s) for s in cached],
        "baseline_turns": [_turn_dict(s) for s in defeated],
        "cached_share_later_turns": share_later,
        "baseline_cached_share_later_turns": base_later,
        "cached_share_all_turns": share_all,
        "baseline_cached_share_all_turns": base_all,
        "share_ratio_to_baseline": ratio(share_later, base_later),
        "cost_usd": _float(cost_mine),
        "baseline_cost_usd": _float(cost_base),
        "cost_ratio_to_baseline": ratio(_float(cost_mine), _float(cost_base)),
        "target": CACHED_SHARE_TARGET,
        "target_met": met,
        "fallback_turns": fallbacks,
    }


def _ratio_cell(value: float | None, baseline: float | None) -> str:
    if value is not None and baseline == 0:
        return "inf" if value else "-"
    return fmt(ratio(value, baseline), 2)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _turn_dict(sample: TurnUsage) -> dict:
    data = asdict(sample)
    data["cost_usd"] = _float(sample.cost_usd)
    data["cached_share"] = sample.cached_share
    return data


# --- table 2 ---------------------------------------------------------------------------------


def report_cost(samples: list[TurnUsage]) -> dict:
    from django.conf import settings

    from threads.pricing import cost_usd

    model = settings.OPENAI_MODEL
    usage = total_usage(samples)
    count = len(samples)
    scale = Decimal(100) / count if count else Decimal(0)
    priced = {name: cost_usd(name, usage) for name in (model, BASELINE_MODEL)}
    per_100 = {name: None if cost is None else cost * scale for name, cost in priced.items()}
    recorded = _cost(samples)
    base_cost = _float(per_100[BASELINE_MODEL])
    rows = []
    for name in (model, BASELINE_MODEL):
        rows.append(
            [
                name + (" (default)" if name == model else " (baseline)"),
                _usd(per_100[name], 4),
                _usd(None if per_100[name] is None or not count else per_100[name] / 100, 6),
                fmt(ratio(_float(per_100[name]), base_cost), 2),
            ]
        )
    uncached = usage.input_tokens - usage.cached_input_tokens
    users = math.ceil(count / RETURNING_TURNS_PER_USER) if count else 0
    models_seen = sorted({s.model for s in samples})
    fallbacks = sum(s.reply_origin != "assistant" for s in samples)
    print_table(
        f"4c. Cost per 100 returning-user turns: {model} vs {BASELINE_MODEL}  (baseline = {BASELINE_MODEL}'s price)",
        ["model", "USD / 100 turns", "USD / turn", f"ratio to {BASELINE_MODEL}"],
        rows,
        notes=[
            f"{count} turns measured ({users} user(s) x up to {RETURNING_TURNS_PER_USER} turns after a first message "
            f"not counted), scaled to 100; {sum(s.tool_calls for s in samples)} tool call(s); "
            f"effort {settings.OPENAI_REASONING_EFFORT or '(model default)'}",
            f"usage (Turn rows): input {usage.input_tokens} (cached {usage.cached_input_tokens}, uncached {uncached}), "
            f"output {usage.output_tokens} (reasoning {usage.reasoning_tokens})",
            f"the same usage priced with threads.pricing.cost_usd for both models; Turn.cost_usd sums to "
            f"{_usd(recorded, 6)} for the {count} turns (model recorded: {', '.join(models_seen) or '-'})",
            "token counts come from the fake OpenAI (estimated at 4 chars/token): the figures show the price "
            "ratio, not a real bill" + (f"; {fallbacks} FALLBACK turn(s)!" if fallbacks else ""),
        ],
    )
    return {
        "model": model,
        "baseline_model": BASELINE_MODEL,
        "turns": count,
        "usage": asdict(usage),
        "usd_per_100_turns": {name: _float(cost) for name, cost in per_100.items()},
        "recorded_cost_usd": _float(recorded),
        "ratio_to_baseline": ratio(_float(per_100[model]), base_cost),
        "fallback_turns": fallbacks,
    }


# --- table 3 ---------------------------------------------------------------------------------


def best_time(fn: Callable[[], object], *, repeats: int, min_time_s: float) -> tuple[float, int]:
    """Best seconds per call over `repeats` runs of a loop sized to last about `min_time_s`; and the loop size."""
    timer = timeit.Timer(fn)
    number = 1
    while (spent := timer.timeit(number)) < min_time_s / 10:
        number *= 2
    number = max(number, math.ceil(number * min_time_s / spent)) if spent else number
    return min(timer.repeat(repeat=repeats, number=number)) / number, number


def measure_pricecheck(prices, courses, *, repeats: int = 5, min_time_s: float = 0.2) -> dict:
    """Time the price check on REPLY and WRONG_REPLY, and `to_whatsapp` on REPLY (the baseline).

    `prices` is `get_catalogue_amounts()`, `courses` is `get_course_amounts()` (course name → its
    amounts), both read once. The check is called as `vet_prices` runs it (through
    `check_catalogue_prices`): with `courses=`, so an amount next to a course's name must be one
    of that course's; the catalogue-wide check (no `courses=`) is timed too.
    """
    from messaging.formatting import to_whatsapp
    from threads.pricecheck import check_prices, remove_wrong_amounts

    good = check_prices(REPLY, prices, courses=courses)
    bad = check_prices(WRONG_REPLY, prices, courses=courses)
    trimmed = remove_wrong_amounts(WRONG_REPLY, bad.wrong)

    def timed(fn: Callable[[], object]) -> tuple[float, int]:
        return best_time(fn, repeats=repeats, min_time_s=min_time_s)

    timings = {
        "to_whatsapp": timed(lambda: to_whatsapp(REPLY)),
        "check_prices": timed(lambda: check_prices(REPLY, prices, courses=courses)),
        "check_prices_no_courses": timed(lambda: check_prices(REPLY, prices)),
        "check_prices_wrong": timed(lambda: check_prices(WRONG_REPLY, prices, courses=courses)),
        "remove_wrong_amounts": timed(lambda: remove_wrong_amounts(WRONG_REPLY, bad.wrong)),
    }
    return {
        "reply_chars": len(REPLY),
        "found": [m.text for m in good.found],
        "wrong": [m.text for m in good.wrong],
        "wrong_reply_found": len(bad.found),
        "wrong_reply_wrong": [m.text for m in bad.wrong],
        "trimmed_chars": len(trimmed),
        "catalogue_amounts": len(prices),
        "courses": len(courses),
        "repeats": repeats,
        "min_time_s": min_time_s,
        "seconds": {name: seconds for name, (seconds, _) in timings.items()},
        "loops": {name: loops for name, (_, loops) in timings.items()},
    }


def report_pricecheck(measured: dict) -> dict:
    seconds, loops = measured["seconds"], measured["loops"]
    base = seconds["to_whatsapp"]
    check_remove = seconds["check_prices_wrong"] + seconds["remove_wrong_amounts"]

    def row(label: str, key: str | None, *, target: bool, value: float | None = None) -> list[str]:
        value = seconds[key] if key else value
        return [
            label,
            f"{value * 1e6:.1f}",
            str(loops[key]) if key else "",
            "< 1 ms" if target else "",
            _met(value < CHECK_TARGET_S) if target else "",
            fmt(ratio(value, base), 2),
        ]

    found, wrong, bad = len(measured["found"]), len(measured["wrong"]), len(measured["wrong_reply_wrong"])
    rows = [
        row("to_whatsapp(reply)  [baseline]", "to_whatsapp", target=False),
        row(f"check_prices(reply, courses=): {found} found, {wrong} wrong", "check_prices", target=True),
        row("check_prices(reply), catalogue-wide (no courses=)", "check_prices_no_courses", target=True),
        row(f"check_prices(reply with {bad} wrong, courses=)", "check_prices_wrong", target=True),
        row(f"remove_wrong_amounts(same, {bad} wrong)", "remove_wrong_amounts", target=False),
        row("check + remove (sum of the two above)", None, target=True, value=check_remove),
    ]
    print_table(
        "4d. Price fact-check time per reply  (baseline = to_whatsapp on the same reply)",
        ["operation", "µs / reply", "loops", "target", "", "ratio to baseline"],
        rows,
        align="lrrrlr",
        notes=[
            f"reply: {measured['reply_chars']} chars, {REPLY_AMOUNTS} amounts ({'; '.join(measured['found'])}) "
            "plus dates, times, session counts, a percentage and a phone number",
            f"wrong reply: {'; '.join(measured['wrong_reply_wrong'])}; trimmed to {measured['trimmed_chars']} chars",
            f"prices = get_catalogue_amounts() ({measured['catalogue_amounts']} amounts), courses = "
            f"get_course_amounts() ({measured['courses']} courses), read once; courses= as vet_prices passes it "
            "(check_catalogue_prices)",
            f"timeit: best of {measured['repeats']} repeats of 'loops' calls each (sized for about "
            f"{measured['min_time_s']} s a repeat); µs / reply = best repeat / loops",
        ],
    )
    return {
        **measured,
        "target_s": CHECK_TARGET_S,
        "target_met": seconds["check_prices"] < CHECK_TARGET_S,
        "ratio_to_to_whatsapp": ratio(seconds["check_prices"], base),
        "check_and_remove_s": check_remove,
    }


# --- the bench -------------------------------------------------------------------------------


def run(*, quick: bool) -> dict:
    """Bench 4 on a fresh test database (DATABASE_URL's engine; `test_` prefix, dropped after)."""
    from courses.selectors import get_catalogue_amounts, get_course_amounts

    returning = 10 if quick else 100
    with demo_test_database("money") as vendor:
        say(f"money: a {len(CONVERSATION)}-turn conversation, as designed and with caching defeated")
        conversation = report_conversation(measure_conversation(), measure_conversation(defeat_cache=True))
        say(f"money: {returning} returning-user turns")
        cost = report_cost(measure_returning_turns(returning))
        say("money: timing the price check")
        prices, courses = get_catalogue_amounts(), get_course_amounts()
        pricecheck = report_pricecheck(
            measure_pricecheck(prices, courses, repeats=3 if quick else 7, min_time_s=0.05 if quick else 0.2)
        )
        return {"database": vendor, "conversation": conversation, "cost": cost, "pricecheck": pricecheck}
