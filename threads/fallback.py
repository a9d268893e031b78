"""The rule-based Spanish responder: the "traditional flow" and the reply when the AI fails.

It reads the catalogue only through `courses.selectors`, recognises a handful of intents by
keywords (accent- and case-insensitively) and always answers something useful, in WhatsApp
formatting. It is deliberately simple: it runs when OpenAI is off or has just failed.
"""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from courses.selectors import CourseDetail, CourseSummary, get_course_detail, normalize_level, search_courses
from courses.text import fold

logger = logging.getLogger(__name__)

MAX_LISTED = 8
MAX_REPLY_CHARS = 1200
_ALL = 500  # "every active course": enough for any real catalogue, and we only need the count beyond 8
_MAX_TOPIC_WORDS = 6
# Names may be 200 characters long: shorten them so 8 list lines and a detail fit MAX_REPLY_CHARS.
_LIST_NAME_CHARS = 80
_BONUS_NAME_CHARS = 60
MAX_BONUSES = 4

# Reasons after which the AI was expected but failed; "media" and "not_configured" are not failures.
_NOT_FAILURES = frozenset({"not_configured", "media"})


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- Vocabulary (folded: lower case, no accents) ---------------------------------------------
_ADVISOR = _vocabulary(
    "asesor asesora asesores asesoria humano humana persona personas llamar llamame llamenme llamada "
    "marcar agente ejecutivo ejecutiva vendedor vendedora representante inscribirme inscribir inscripcion "
    "comprar"
)
_PRICE = _vocabulary(
    "precio precios costo costos cuesta cuestan cobran valen tarifa tarifas inversion pagar pagos "
    "mensualidad mensualidades"
)
# Whole-word phrases ("en cuanto este listo" is not a price question); "vale" and "pago" are
# left out: "vale, gracias" and "pago despues" are not either.
_PRICE_PHRASES = re.compile(
    r"(?<!\ben )\bcuanto (?:(?:me|nos|te) )?(?:sale|es|seria|vale|esta|cobran)\b"
    r"|\b(?:formas?|metodos?|medios?) de pago\b|\baceptan (?:pago|pagos|tarjeta)"
)
_CATALOGUE = _vocabulary("curso cursos catalogo oferta ofrecen tienen opciones programas informacion info")
_HELP = _vocabulary("ayuda ayudame menu help puedes haces funciona comandos")
_GREETING = _vocabulary("hola holi buenas buenos buen dia dias tardes noches saludos hey hi hello")
_THANKS = _vocabulary("gracias grax thanks thx")
# Words that never name a course: every stop word of courses.selectors (there an ignored word
# would match the whole catalogue), and "ia"/"ai", since every course is about AI.
_FILLER = _vocabulary(
    "a ai al algo alguien alguna alguno aprender aqui bien busco como con cual cuales cuando cuanto cuantos "
    "dame de del detalle detalles dime donde dura duracion el ella en es esa ese eso esta estan este esto "
    "estudiar favor gustaria hacer hay ia interesa interesada interesado la las le les lo los mas me mi mis "
    "modalidad muy necesito nivel niveles no nos o ok okay para pero por porfa pueden puedo que quiero "
    "quisiera saber se sesiones si sobre son su sus te tengo tipo tomar tu tus un una uno unos usted ustedes "
    "ver y ya mejor muestrame muestra ensename otro otra otros prefiero entonces tambien solo tal vez"
)
_SHORT_TOPICS = frozenset({"ml", "bi", "ux"})
_KEYWORDS = _ADVISOR | _PRICE | _CATALOGUE | _HELP | _GREETING | _THANKS | _FILLER
_BRACKETED = re.compile(r"\[[^\]]*\]")  # notes our service adds, e.g. "[El usuario adjuntó 1 archivo…]"
_WORD = re.compile(r"\w[\w+#]*")

# --- Fixed texts -----------------------------------------------------------------------------
_MENU = (
    "Puedo ayudarte con:\n"
    '• *Catálogo*: escribe "cursos".\n'
    '• *Por nivel*: "principiante", "intermedio" o "avanzado".\n'
    "• *Un curso*: escribe su nombre o el tema que te interesa.\n"
    '• *Precios*: escribe "precios".\n'
    '• *Asesor*: escribe "asesor" para hablar con una persona.'
)
_AI_FAILED = "Ahora mismo tengo problemas para consultar a mi asistente, pero te ayudo con el catálogo:"
# A budget limit was reached: polite, no blame, and the catalogue still answers.
_LIMITED = (
    "Por hoy ya no puedo darte respuestas detalladas con mi asistente, pero con gusto te ayudo con el "
    'catálogo (o escribe "asesor" para hablar con una persona):'
)
_MEDIA = "Por ahora solo puedo leer mensajes de texto: todavía no puedo ver imágenes, audios ni archivos."
_ADVISOR_CTA = 'Si quieres inscribirte o tienes dudas, escribe "asesor" y una persona del equipo te atiende.'


@dataclass(frozen=True)
class Intent:
    """What the user wants: `kind`, plus the level and courses their words point at."""

    kind: str  # advisor, price, course, level, catalogue, help, greeting, thanks, menu, unknown
    level: str | None = None
    courses: tuple[CourseSummary, ...] = ()  # best matches (ties), cheapest first
    related: tuple[CourseSummary, ...] = ()  # weaker matches
    unmatched: tuple[str, ...] = ()  # topic words that found no course


# Intents that only win when nothing more specific was said in the burst.
_WEAK = frozenset({"greeting", "thanks", "unknown"})


def fallback_reply(*, texts: Sequence[str], reason: str | None = None) -> str:
    """Answer the user's pending messages from the catalogue, in Spanish, without the AI.

    `reason` says why we are here ("openai_error", "timeout", "not_configured", "media", …) so
    the reply can open with an apology or a note about attachments. Never returns "".
    """
    intent = detect_intent(texts)
    opening = _opening(reason)
    if opening and intent.kind in _WEAK:
        intent = Intent(kind="menu")  # the apology or media note already greets; show what we can do
    body = _RENDERERS[intent.kind](intent)
    logger.info("fallback reply: intent=%s reason=%s courses=%d", intent.kind, reason or "-", len(intent.courses))
    return _fit("\n\n".join(part for part in (opening, body) if part))


def detect_intent(texts: Sequence[str]) -> Intent:
    """Return the most recent specific intent of a burst of messages.

    Greetings and thanks only count when nothing else was asked: "hola" followed by a question,
    or a question followed by "gracias", is answered as the question. A price question without a
    course ("¿cuánto cuesta?") borrows the course named earlier in the burst.
    """
    weak: Intent | None = None
    for index in range(len(texts) - 1, -1, -1):
        intent = _detect_one(texts[index])
        if intent.kind not in _WEAK:
            if intent.kind == "price" and not intent.courses and index:
                return _with_earlier_courses(intent, texts[:index])
            return intent
        if weak is None and intent.kind != "unknown":
            weak = intent
    return weak or Intent(kind="unknown")


def _detect_one(text: str) -> Intent:
    # "_" is WhatsApp's italics, not part of a word ("_hola_", "___").
    folded = fold(_BRACKETED.sub(" ", text)).replace("_", " ")
    words = _WORD.findall(folded)
    if not words:
        return Intent(kind="unknown")
    vocabulary = set(words)
    level = _find_level(words)
    topics = _topic_words(words)
    best, related = _match_courses(topics, level)
    unmatched = () if best else tuple(topics)
    if vocabulary & _ADVISOR:
        return Intent(kind="advisor", level=level, courses=best)
    if vocabulary & _PRICE or _PRICE_PHRASES.search(folded):
        return Intent(kind="price", level=level, courses=best, related=related)
    if best:
        return Intent(kind="course", level=level, courses=best, related=related)
    if level:
        return Intent(kind="level", level=level)
    if vocabulary & _CATALOGUE:
        return Intent(kind="catalogue", unmatched=unmatched)
    if vocabulary & _HELP:
        return Intent(kind="help")
    if vocabulary & _GREETING:
        return Intent(kind="greeting")
    if vocabulary & _THANKS:
        return Intent(kind="thanks")
    return Intent(kind="unknown")


def _with_earlier_courses(intent: Intent, earlier: Sequence[str]) -> Intent:
    for text in reversed(earlier):
        previous = _detect_one(text)
        if previous.courses:
            return Intent(kind="price", level=intent.level, courses=previous.courses, related=previous.related)
    return intent


def _find_level(words: Sequence[str]) -> str | None:
    for word in words:
        level = normalize_level(word) or normalize_level(word.removesuffix("s"))
        if level:
            return level
    return None


def _topic_words(words: Sequence[str]) -> list[str]:
    topics = []
    for word in words:
        if word in _KEYWORDS or _find_level([word]) or word in topics:
            continue
        if len(word) > 2 or word in _SHORT_TOPICS:
            topics.append(word)
    return topics[:_MAX_TOPIC_WORDS]


def _match_courses(
    topics: Sequence[str], level: str | None
) -> tuple[tuple[CourseSummary, ...], tuple[CourseSummary, ...]]:
    """Rank active courses by how many topic words they contain (a word in the name counts double).

    Return the best-scoring courses (ties) and the rest of the matches, each cheapest first.
    """
    scores: dict[str, int] = {}
    found: dict[str, CourseSummary] = {}
    for word in topics:
        for course in _search_word(word, level):
            found[course["id_course"]] = course
            scores[course["id_course"]] = scores.get(course["id_course"], 0) + (
                2 if word in fold(course["name"]) else 1
            )
    if not scores:
        return (), ()
    top = max(scores.values())
    ranked = sorted(found.values(), key=lambda c: (Decimal(c["price"] or "0"), c["name"]))
    best = tuple(c for c in ranked if scores[c["id_course"]] == top)
    return best, tuple(c for c in ranked if scores[c["id_course"]] < top)


def _search_word(word: str, level: str | None) -> list[CourseSummary]:
    """Search one word, then its singular: "prompts" should find "Prompt engineering"."""
    found = search_courses(name=word, level=level, limit=_ALL)
    if not found and len(word) > 3 and word.endswith("s"):
        found = search_courses(name=word[:-1], level=level, limit=_ALL)
    return found


def _opening(reason: str | None) -> str:
    if reason == "media":
        return _MEDIA
    if reason == "limited":
        return _LIMITED
    if reason and reason not in _NOT_FAILURES:
        return _AI_FAILED
    return ""


# --- Renderers: one per intent ----------------------------------------------------------------


def _render_menu(intent: Intent) -> str:
    return _MENU


def _render_greeting(intent: Intent) -> str:
    return f"¡Hola! Soy Brenda, tu asistente de cursos de inteligencia artificial. {_MENU}"


def _render_help(intent: Intent) -> str:
    return f"Soy Brenda y te ayudo a elegir un curso de inteligencia artificial. {_MENU}"


def _render_thanks(intent: Intent) -> str:
    return '¡Con gusto! Si quieres ver algo más, escribe "cursos" o el nombre de un curso.'


def _render_unknown(intent: Intent) -> str:
    return f"No estoy segura de haber entendido tu mensaje. {_MENU}"


def _render_advisor(intent: Intent) -> str:
    about = f" sobre *{intent.courses[0]['name']}*" if len(intent.courses) == 1 else ""
    return (
        f"¡Claro! Un asesor de nuestro equipo puede atenderte personalmente{about}. "
        "Déjame tu nombre y el horario que te acomode, y te contactamos por este chat."
    )


def _render_catalogue(intent: Intent) -> str:
    courses = search_courses(limit=_ALL)
    if not courses:
        return 'Por ahora no tenemos cursos abiertos. Escribe "asesor" y te avisamos de los próximos.'
    header = "Estos son nuestros cursos:"
    if intent.unmatched:
        header = f"No encontré cursos sobre «{' '.join(intent.unmatched)}». {header}"
    return f"{header}\n{_course_lines(courses)}\n\nEscríbeme el nombre de un curso y te doy todos los detalles."


def _render_level(intent: Intent) -> str:
    label = _label(intent.level or "")
    courses = search_courses(level=intent.level, limit=_ALL)
    if not courses:
        return f'Por ahora no tenemos cursos de nivel *{label}*. Escribe "cursos" para ver todo el catálogo.'
    return f"Cursos de nivel *{label}*:\n{_course_lines(courses)}\n\nEscríbeme el nombre de uno para ver sus detalles."


def _render_course(intent: Intent) -> str:
    if len(intent.courses) > 1:
        return f"Encontré estos cursos:\n{_course_lines(intent.courses)}\n\n¿Cuál te interesa?"
    detail = get_course_detail(intent.courses[0]["id_course"])
    if detail is None:  # deactivated between the search and now
        return _render_catalogue(Intent(kind="catalogue"))
    text = f"{_detail_text(detail)}\n\n{_ADVISOR_CTA}"
    if intent.related:
        names = ", ".join(c["name"] for c in intent.related[:3])
        text += f"\n\nTambién te puede interesar: {names}."
    return text


def _render_price(intent: Intent) -> str:
    if len(intent.courses) == 1:
        course = intent.courses[0]
        return (
            f"*{course['name']}* cuesta *{_money(course['price'], course['currency'])}* "
            f"({_label(course['modality'])}, nivel {_label(course['level'])}).\n\n{_ADVISOR_CTA}"
        )
    if intent.courses:
        return f"Estos son los precios:\n{_course_lines(intent.courses)}"
    courses = search_courses(level=intent.level, limit=_ALL)
    if not courses:
        return _render_level(intent) if intent.level else _render_catalogue(intent)
    scope = f" de nivel *{_label(intent.level)}*" if intent.level else ""
    return f"Nuestros precios{scope}:\n{_course_lines(courses)}\n\n{_ADVISOR_CTA}"


_RENDERERS: dict[str, Callable[[Intent], str]] = {
    "menu": _render_menu,
    "greeting": _render_greeting,
    "help": _render_help,
    "thanks": _render_thanks,
    "unknown": _render_unknown,
    "advisor": _render_advisor,
    "catalogue": _render_catalogue,
    "level": _render_level,
    "course": _render_course,
    "price": _render_price,
}


# --- Text helpers ------------------------------------------------------------------------------


def _course_lines(courses: Sequence[CourseSummary]) -> str:
    lines = [
        f"• *{_shorten(c['name'], _LIST_NAME_CHARS)}* — {_label(c['level'])} — {_money(c['price'], c['currency'])}"
        for c in courses[:MAX_LISTED]
    ]
    if len(courses) > MAX_LISTED:
        lines.append(f"…y {len(courses) - MAX_LISTED} más.")
    return "\n".join(lines)


def _detail_text(detail: CourseDetail) -> str:
    lines = [
        f"*{detail['name']}*",
        detail["short_description"],
        f"• Nivel: {_label(detail['level'])}",
        f"• Sesiones: {detail['sessions_count']} ({detail['duration_hours']} h en total)",
        f"• Modalidad: {_label(detail['modality'])}",
        f"• Precio: *{_money(detail['price'], detail['currency'])}*",
    ]
    if detail["bonuses"]:
        bonuses = ", ".join(
            f"{_shorten(b['name'], _BONUS_NAME_CHARS)} (valor {_money(b['value'], detail['currency'])})"
            if b["value"]
            else _shorten(b["name"], _BONUS_NAME_CHARS)
            for b in detail["bonuses"][:MAX_BONUSES]
        )
        lines.append(f"• Bonos: {bonuses}")
    return "\n".join(line for line in lines if line)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _label(value: str) -> str:
    return value[:1].upper() + value[1:]


def _money(amount: str | None, currency: str) -> str:
    if amount is None:
        return "precio por confirmar"
    value = Decimal(amount)
    number = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    return f"${number} {currency}"


def _fit(text: str) -> str:
    """Keep the reply under MAX_REPLY_CHARS by dropping whole lines from the end (long names, many bonuses)."""
    if len(text) <= MAX_REPLY_CHARS:
        return text
    kept: list[str] = []
    for line in text.split("\n"):
        if sum(len(k) + 1 for k in kept) + len(line) + 1 > MAX_REPLY_CHARS:
            break
        kept.append(line)
    if not kept:  # one enormous line
        return text[: MAX_REPLY_CHARS - 1].rstrip() + "…"
    return "\n".join(kept).rstrip() + "\n…"
