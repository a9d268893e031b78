"""The rule-based responder's replies: one renderer per intent, in WhatsApp format, Spanish or English.

Every fact comes from the catalogue snapshot; what it does not hold (dates, schedules, payment
methods, discounts) is said plainly, with the offer of a person. Lists show at most
`MAX_LISTED` courses, numbered so "el segundo" can refer to one; prices are always grouped by
currency, the catalogue's main currency first.
"""

import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from courses.selectors import BonusInfo

from .catalogue import Catalogue, Course
from .intents import MAX_LISTED, MODALITY_TARGETS, Intent, Memory, in_scope

MAX_REPLY_CHARS = 1500  # WhatsApp's limit is 1,600; the opening note fits in the rest
_LIST_NAME_CHARS = 80
_BONUS_NAME_CHARS = 60
# A bonus whose description limits who gets it: the limit is said with the bonus.
_CONDITIONAL = re.compile(
    r"(?i)\b(?:s[oó]lo|[uú]nicamente|exclusiv[oa]s?|only|incluid[oa]s? para|para (?:los )?alumnos de)\b"
)
_BONUS_CONDITION_CHARS = 90
_COMPARE_DESCRIPTION_CHARS = 110
MAX_BONUSES = 4
MAX_SESSIONS = 12

_LEVELS_EN = {"principiante": "beginner", "intermedio": "intermediate", "avanzado": "advanced"}
_MODALITIES_EN = {
    "online en vivo": "live online",
    "online a tu ritmo": "self-paced online",
    "presencial": "in person",
    "híbrido": "hybrid",
}
_NO_DATA_ES = {
    "dates": "las fechas de inicio",
    "schedule": "los horarios",
    "payment": "las formas de pago",
    "discount": "descuentos ni promociones",
    "location": "la dirección de las sedes",
    "refund": "la política de cancelación y reembolsos",
    "requirements": "los requisitos previos (solo el nivel de cada curso)",
    "instructor": "quién imparte cada curso",
    "seats": "los lugares disponibles",
    "group": "el tamaño de los grupos",
    "trial": "clases muestra ni pruebas gratuitas",
    "language": "el idioma de los cursos",
    "jobs": "bolsa de trabajo ni garantía de empleo",
    "age": "edades mínimas ni cursos para niños",
    "recordings": "información sobre grabaciones",
}
_NO_DATA_EN = {
    "dates": "start dates",
    "schedule": "class schedules",
    "payment": "payment methods",
    "discount": "discounts or promotions",
    "location": "venue addresses",
    "refund": "the cancellation and refund policy",
    "requirements": "prerequisites (only each course's level)",
    "instructor": "who teaches each course",
    "seats": "how many seats are left",
    "group": "group sizes",
    "trial": "free trial classes",
    "language": "the language of instruction",
    "jobs": "job placement or job guarantees",
    "age": "age limits or courses for children",
    "recordings": "information about recordings",
}

_TARGET_LABELS: dict[str, dict[str, str]] = {
    "es": {
        "presencial": "presenciales (o híbridos)",
        "online": "en línea",
        "en vivo": "en vivo",
        "a tu ritmo": "a tu ritmo (grabados)",
        "híbrido": "híbridos",
    },
    "en": {
        "presencial": "In-person (or hybrid)",
        "online": "Online",
        "en vivo": "Live",
        "a tu ritmo": "Self-paced",
        "híbrido": "Hybrid",
    },
}

_T: dict[str, dict[str, str]] = {
    "es": {
        "menu": (
            "Puedo ayudarte con:\n"
            '• *Cursos*: escribe "cursos" para ver el catálogo.\n'
            '• *Un tema o nivel*: "python", "marketing", "principiante"…\n'
            '• *Precios*: "precios" o "el más barato".\n'
            '• *Recomendación*: cuéntame a qué te dedicas ("soy diseñadora").\n'
            '• *Una persona*: escribe "asesor".'
        ),
        "short_help": 'Escribe "cursos", un tema (por ejemplo "python") o "asesor" para hablar con una persona.',
        "greeting": "¡Hola! Soy Brenda, tu asistente de cursos de inteligencia artificial.",
        "greeting_again": "¡Hola de nuevo! ¿En qué te ayudo?",
        "help": "Soy Brenda y te ayudo a elegir un curso de inteligencia artificial.",
        "thanks": '¡Con gusto! Si quieres ver algo más, escribe "cursos" o el nombre de un curso.',
        "goodbye": "¡Gracias por escribir! Aquí estaré cuando quieras retomarlo. 👋",
        "unclear": "No estoy segura de haber entendido tu mensaje.",
        "unclear_short": "No te entendí bien.",
        "ai_failed": "Ahora mismo tengo problemas para consultar a mi asistente, pero te ayudo con el catálogo:",
        "limited": (
            "Por hoy ya no puedo darte respuestas detalladas con mi asistente, pero con gusto te ayudo con el "
            'catálogo (o escribe "asesor" para hablar con una persona):'
        ),
        "media": "Por ahora solo puedo leer mensajes de texto: todavía no puedo ver imágenes, audios ni archivos.",
        "cta": 'Si quieres inscribirte o tienes dudas, escribe "asesor" y una persona del equipo te atiende.',
        "person": 'Si quieres, escribe "asesor" y una persona del equipo te lo confirma por este chat.',
        "empty": (
            'Por ahora no tenemos cursos abiertos. Escribe "asesor" y una persona del equipo te avisa de los próximos.'
        ),
        "more_hint": '…y {n} más: escribe "ver más".',
        "pick_hint": 'Escríbeme el número o el nombre de uno para ver sus detalles, o "ver más".',
        "pick_short": "Escríbeme el número o el nombre de uno para ver sus detalles.",
        "compare": "Lado a lado:",
        "retired": "Ese curso ya no se ofrece.",
        "compare_line": "{level}, {modality}, {sessions} sesiones ({hours} h), *{price}*",
        "compare_end": (
            'Escríbeme el número de uno para ver su temario y bonos, o "asesor" y una persona te ayuda a elegir.'
        ),
        "catalogue": "Tenemos {n} cursos de IA. Estos son algunos:",
        "catalogue_unmatched": "No encontré cursos sobre «{words}». Tenemos {n} cursos de IA; estos son algunos:",
        "no_more": (
            'Ya te mostré todos los cursos de esa lista. Escribe "cursos" para ver el catálogo o un tema que te '
            "interese."
        ),
        "more": "Más opciones:",
        "level": "Cursos de nivel *{level}*:",
        "level_none": 'Por ahora no tenemos cursos de nivel *{level}*. Escribe "cursos" para ver todo el catálogo.',
        "search": "Estos cursos tratan de lo que buscas:",
        "search_level_missing": "No tengo cursos de eso de nivel *{level}*, pero estos lo tratan:",
        "related": "También te puede interesar: {names}.",
        "detail_level_missing": "No tengo un curso de eso de nivel *{level}*; el más cercano es:",
        "price_one": "*{name}* cuesta *{price}* ({modality}, nivel {level}).",
        "price_currency_only": "Su precio solo está en {currency}: no lo convertimos a otra moneda.",
        "price_list": "Estos son los precios:",
        "price_overview": "Nuestros precios{scope}: {ranges}.",
        "price_range": "de *{low}* a *{high}* ({n} cursos)",
        "price_single": "*{price}* (1 curso)",
        "price_scope": " de nivel *{level}*",
        "price_scope_modality": " de los cursos {target}",
        "cheapest": "El más económico en {currency}: *{name}* — *{price}*.",
        "priciest": "El de mayor precio en {currency}: *{name}* — *{price}*.",
        "extreme_intro": "Por moneda (los precios en pesos y en dólares no se comparan entre sí):",
        "budget": "Cursos de hasta *{amount}*:",
        "budget_none": "No tengo cursos de hasta *{amount}*. El más económico en {currency} es *{name}* — *{price}*.",
        "budget_none_at_all": "No tengo cursos con precio en {currency}.",
        "group": "*En {currency}*",
        "modality_one": "*{name}* es *{modality}*.",
        "modality_yes": "Sí: *{name}* es *{modality}*.",
        "modality_no": "No: *{name}* es *{modality}*.",
        "modality_list": "Cursos {target}:",
        "modality_level_list": "Cursos {target} de nivel *{level}*:",
        "modality_level_none": "No tengo cursos {target} de nivel *{level}*. Los {target} que sí tengo:",
        "modality_none": 'No tengo cursos {target} por ahora. Escribe "cursos" para ver el catálogo.',
        "modality_overview": "Así se imparten nuestros cursos:",
        "recordings": "Incluye {bonus}.",
        "recordings_yes": "Sí: *{name}* incluye {bonus}.",
        "syllabus": "*{name}*: {sessions} sesiones ({hours} h en total).",
        "syllabus_which": "¿De qué curso quieres el temario?",
        "bonus_one": "*{name}* incluye:",
        "bonus_none": "El catálogo no indica bonos para *{name}*.",
        "bonus_list": "Algunos cursos con bonos:",
        "certificate_yes": "Sí: *{name}* incluye {bonus}.",
        "certificate_no": "El catálogo no menciona certificado ni constancia para *{name}*.",
        "certificate_list": "Según el catálogo, estos cursos incluyen certificado o constancia:",
        "certificate_others": "Los demás cursos no mencionan certificado en el catálogo.",
        "certificate_none": "El catálogo no menciona certificados ni constancias para nuestros cursos.",
        "value": "valor {price}",
        "detail_level": "Nivel",
        "detail_sessions": "Sesiones",
        "detail_hours": "h en total",
        "detail_modality": "Modalidad",
        "detail_price": "Precio",
        "detail_bonuses": "Bonos",
        "which": "¿De cuál? Escríbeme su número o su nombre:",
        "no_data": "No tengo ese dato: el catálogo no incluye {what}.",
        "no_data_course": "No tengo ese dato: el catálogo no incluye {what} de *{name}*.",
        "facts": "Lo que sí sé: {modality}, {sessions} sesiones ({hours} h), *{price}*.",
        "enrol_course": (
            '¡Qué bien que te interese *{name}*! Las inscripciones las hace una persona del equipo: escribe "asesor" '
            "y te atienden por este chat."
        ),
        "enrol": 'Las inscripciones las hace una persona del equipo: escribe "asesor" y te atienden por este chat.',
        "handoff": "¡Claro! Una persona del equipo te contactará por este chat{about}.",
        "handoff_call": "¡Claro! Una persona del equipo te contactará por este chat para acordar la llamada{about}.",
        "handoff_complaint": "Lamento la molestia. Una persona del equipo te contactará por este chat para atenderte.",
        "about": " sobre *{name}*",
        "opt_out": "Entendido, no te escribiré más sobre cursos. Si algún día quieres retomarlo, escribe ALTA.",
        "opt_in": '¡Listo! ¿En qué te ayudo? Escribe "cursos" o un tema que te interese.',
        "opt_out_how": "Para dejar de recibir mensajes, escribe solo la palabra *BAJA*.",
        "recommend_profile": "Por lo que me cuentas, te recomiendo:",
        "recommend_topic": "Te recomiendo:",
        "next_level": "El siguiente nivel es *{level}*:",
        "top_level": "*{name}* ya es de nivel *{level}*, el más alto que tenemos.",
        "recommend_starter": ("Para empezar desde cero, estos son los de nivel *Principiante*:"),
        "recommend_ask": (
            'Si me cuentas a qué te dedicas o qué quieres lograr ("soy contador", "tengo una tienda"), te digo cuál '
            "te conviene más."
        ),
        "price_tbd": "precio por confirmar",
    },
    "en": {
        "menu": (
            "I can help you with:\n"
            '• *Courses*: write "courses" to see the catalogue.\n'
            '• *A topic or level*: "python", "marketing", "beginner"…\n'
            '• *Prices*: "prices" or "cheapest".\n'
            '• *A recommendation*: tell me what you do ("I\'m a designer").\n'
            '• *A person*: write "advisor".'
        ),
        "short_help": 'Write "courses", a topic (for example "python") or "advisor" to talk to a person.',
        "greeting": "Hi! I'm Brenda, your assistant for artificial intelligence courses.",
        "greeting_again": "Hi again! How can I help?",
        "help": "I'm Brenda and I help you choose an artificial intelligence course.",
        "thanks": 'You\'re welcome! Write "courses" or a course name to see more.',
        "goodbye": "Thanks for writing! I'll be here whenever you want to pick it up again. 👋",
        "unclear": "I'm not sure I understood your message.",
        "unclear_short": "I didn't quite get that.",
        "ai_failed": "I'm having trouble reaching my assistant right now, but I can help you with the catalogue:",
        "limited": (
            "I can't give detailed answers with my assistant for today, but I'm happy to help with the catalogue "
            '(or write "advisor" to talk to a person):'
        ),
        "media": "For now I can only read text messages: I can't see images, audio or files yet.",
        "cta": 'To enrol or ask anything else, write "advisor" and a person from our team will help you.',
        "person": 'If you like, write "advisor" and a person from our team will confirm it in this chat.',
        "empty": (
            'We have no open courses right now. Write "advisor" and a person from our team will tell you about the '
            "next ones."
        ),
        "more_hint": '…and {n} more: write "more".',
        "pick_hint": 'Write the number or name of one for its details, or "more".',
        "pick_short": "Write the number or name of one for its details.",
        "compare": "Side by side:",
        "retired": "That course is no longer offered.",
        "compare_line": "{level}, {modality}, {sessions} sessions ({hours} h), *{price}*",
        "compare_end": (
            'Write the number of one for its syllabus and bonuses, or "advisor" and a person will help you choose.'
        ),
        "catalogue": "We have {n} AI courses. Here are some:",
        "catalogue_unmatched": "I found no courses about «{words}». We have {n} AI courses; here are some:",
        "no_more": 'That was the whole list. Write "courses" for the catalogue or a topic you are interested in.',
        "more": "More options:",
        "level": "*{level}* courses:",
        "level_none": 'We have no *{level}* courses right now. Write "courses" for the whole catalogue.',
        "search": "These courses cover what you are looking for:",
        "search_level_missing": "I have no *{level}* course on that, but these cover it:",
        "related": "You may also like: {names}.",
        "detail_level_missing": "I have no *{level}* course on that; the closest one is:",
        "price_one": "*{name}* costs *{price}* ({modality}, {level} level).",
        "price_currency_only": "It is priced in {currency} only: we do not convert it to other currencies.",
        "price_list": "Here are the prices:",
        "price_overview": "Our prices{scope}: {ranges}.",
        "price_range": "from *{low}* to *{high}* ({n} courses)",
        "price_single": "*{price}* (1 course)",
        "price_scope": " for *{level}* courses",
        "price_scope_modality": " for {target} courses",
        "cheapest": "The most affordable in {currency}: *{name}* — *{price}*.",
        "priciest": "The most expensive in {currency}: *{name}* — *{price}*.",
        "extreme_intro": "By currency (peso and dollar prices are not compared with each other):",
        "budget": "Courses up to *{amount}*:",
        "budget_none": "I have no courses up to *{amount}*. The most affordable in {currency} is *{name}* — *{price}*.",
        "budget_none_at_all": "I have no courses priced in {currency}.",
        "group": "*In {currency}*",
        "modality_one": "*{name}* is *{modality}*.",
        "modality_yes": "Yes: *{name}* is *{modality}*.",
        "modality_no": "No: *{name}* is *{modality}*.",
        "modality_list": "{target} courses:",
        "modality_level_list": "{target} courses at *{level}* level:",
        "modality_level_none": "I have no {target} courses at *{level}* level. The {target} courses I do have:",
        "modality_none": 'I have no {target} courses right now. Write "courses" for the catalogue.',
        "modality_overview": "How our courses are taught:",
        "recordings": "It includes {bonus}.",
        "recordings_yes": "Yes: *{name}* includes {bonus}.",
        "syllabus": "*{name}*: {sessions} sessions ({hours} h in total).",
        "syllabus_which": "Which course would you like the syllabus of?",
        "bonus_one": "*{name}* includes:",
        "bonus_none": "The catalogue lists no bonuses for *{name}*.",
        "bonus_list": "Some courses with bonuses:",
        "certificate_yes": "Yes: *{name}* includes {bonus}.",
        "certificate_no": "The catalogue does not mention a certificate for *{name}*.",
        "certificate_list": "According to the catalogue, these courses include a certificate:",
        "certificate_others": "The other courses do not mention a certificate in the catalogue.",
        "certificate_none": "The catalogue does not mention certificates for our courses.",
        "value": "worth {price}",
        "detail_level": "Level",
        "detail_sessions": "Sessions",
        "detail_hours": "h in total",
        "detail_modality": "Format",
        "detail_price": "Price",
        "detail_bonuses": "Bonuses",
        "which": "Which one? Write its number or name:",
        "no_data": "I don't have that: the catalogue does not include {what}.",
        "no_data_course": "I don't have that: the catalogue does not include {what} for *{name}*.",
        "facts": "What I do know: {modality}, {sessions} sessions ({hours} h), *{price}*.",
        "enrol_course": (
            'Great that you like *{name}*! Enrolment is handled by a person from our team: write "advisor" and '
            "they will help you in this chat."
        ),
        "enrol": 'Enrolment is handled by a person from our team: write "advisor" and they will help you in this chat.',
        "handoff": "Of course! A person from our team will contact you in this chat{about}.",
        "handoff_call": "Of course! A person from our team will contact you in this chat to arrange the call{about}.",
        "handoff_complaint": "I'm sorry about that. A person from our team will contact you in this chat to help you.",
        "about": " about *{name}*",
        "opt_out": (
            "Understood, I won't write to you about courses any more. If you ever want to come back, write START."
        ),
        "opt_in": 'Done! How can I help? Write "courses" or a topic you are interested in.',
        "opt_out_how": "To stop receiving messages, write just the word *STOP*.",
        "recommend_profile": "From what you tell me, I recommend:",
        "recommend_topic": "I recommend:",
        "next_level": "The next level is *{level}*:",
        "top_level": "*{name}* is already *{level}*, our highest level.",
        "recommend_starter": "To start from scratch, these are our *beginner* courses:",
        "recommend_ask": (
            'Tell me what you do or what you want to achieve ("I\'m an accountant", "I have a shop") and I\'ll '
            "tell you which suits you best."
        ),
        "price_tbd": "price to be confirmed",
    },
}


class Writer:
    """Renders intents in one language over one catalogue snapshot."""

    def __init__(self, catalogue: Catalogue, memory: Memory, lang: str) -> None:
        self.catalogue = catalogue
        self.memory = memory
        self.lang = lang if lang in _T else "es"
        self.t = _T[self.lang]

    # --- entry points ---
    def opening(self, reason: str | None) -> str:
        if reason == "media":
            return self.t["media"]
        if reason == "limited":
            return self.t["limited"]
        if reason and reason not in {"not_configured", "media"}:
            return self.t["ai_failed"]
        return ""

    def render(self, intent: Intent) -> str:
        if not self.catalogue.courses and intent.kind not in _WITHOUT_CATALOGUE:
            return f"{self.t['empty']}" if intent.kind != "unclear" else f"{self.t['unclear']} {self.t['menu']}"
        renderer: Callable[[Intent], str] = getattr(self, f"_{intent.kind}", self._unclear)
        return renderer(intent)

    # --- conversation ---
    def _menu(self, intent: Intent) -> str:
        return self.t["menu"]

    def _greeting(self, intent: Intent) -> str:
        if self.memory.menu_shown:
            return f"{self.t['greeting_again']} {self.t['short_help']}"
        return f"{self.t['greeting']} {self.t['menu']}"

    def _help(self, intent: Intent) -> str:
        return f"{self.t['help']} {self.t['menu']}"

    def _thanks(self, intent: Intent) -> str:
        return self.t["thanks"]

    def _goodbye(self, intent: Intent) -> str:
        return self.t["goodbye"]

    def _unclear(self, intent: Intent) -> str:
        if self.memory.menu_shown:
            return f"{self.t['unclear_short']} {self.t['short_help']}"
        return f"{self.t['unclear']} {self.t['menu']}"

    def _consent(self, intent: Intent) -> str:
        if intent.topic == "opt_out_request":  # only the keyword opts out (threads.consent)
            return self.t["opt_out_how"]
        return self.t["opt_out"] if intent.topic == "opt_out" else self.t["opt_in"]

    def _handoff(self, intent: Intent) -> str:
        about = self.t["about"].format(name=intent.course.name) if intent.course else ""
        if intent.topic == "complaint":
            return self.t["handoff_complaint"]
        key = "handoff_call" if intent.topic == "call" else "handoff"
        return self.t[key].format(about=about)

    def _enrol(self, intent: Intent) -> str:
        if intent.course:
            return self.t["enrol_course"].format(name=intent.course.name)
        return self.t["enrol"]

    # --- lists ---
    def _catalogue(self, intent: Intent, exclude: frozenset[str] = frozenset()) -> str:
        courses = intent.courses or tuple(self.catalogue.by_level())
        n = len(self.catalogue.courses)
        if intent.unmatched:
            header = self.t["catalogue_unmatched"].format(words=" ".join(intent.unmatched[:3]), n=n)
        else:
            header = self.t["catalogue"].format(n=n)
        return self._listing(header, courses, exclude=exclude)

    def _more(self, intent: Intent) -> str:
        listing = intent.listing or Intent("catalogue", courses=tuple(self.catalogue.by_level()))
        remaining = [c for c in listing.courses if c.id not in intent.exclude]
        if not remaining:
            return self.t["no_more"]
        listing = Intent(
            listing.kind,
            lang=self.lang,
            courses=listing.courses,
            level=listing.level,
            modality=listing.modality,
            amount=listing.amount,
            currency=listing.currency,
            topic=listing.topic,
        )
        body = self.render_list(listing, exclude=intent.exclude)
        return body

    def render_list(self, intent: Intent, *, exclude: frozenset[str]) -> str:
        """A list intent's next page, leaving out courses already shown."""
        if intent.kind in {"price", "budget", "cheapest", "priciest"}:
            return self._prices(self.t["more"], intent.courses, exclude=exclude)
        return self._listing(self.t["more"], intent.courses, exclude=exclude)

    def _search(self, intent: Intent) -> str:
        if intent.course is None:
            if not intent.courses:
                return self._unclear(intent)
            if intent.level and intent.level_missing:
                header = self.t["search_level_missing"].format(level=self._level(intent.level))
            elif intent.level:
                header = self.t["level"].format(level=self._level(intent.level))
            else:
                header = self.t["search"]
            return self._listing(header, intent.courses)
        text = self._detail(intent.course)
        if intent.level_missing and intent.level:
            text = f"{self.t['detail_level_missing'].format(level=self._level(intent.level))}\n{text}"
        text += f"\n\n{self.t['cta']}"
        related = [c.name for c in intent.courses if c is not intent.course][:3]
        if related:
            text += "\n\n" + self.t["related"].format(names=", ".join(related))
        return text

    def _retired(self, intent: Intent) -> str:
        return f"{self.t['retired']} {self.t['menu']}"  # never its name: an inactive course is not offered

    def _compare(self, intent: Intent) -> str:
        lines = [self.t["compare"]]
        for n, c in enumerate(intent.courses, 1):
            lines.append(f"{n}. *{c.name}*: {self.t['compare_line'].format(**self._facts(c))}")
            if self.lang == "es" and c.detail["short_description"]:
                lines.append(f"   {_shorten(c.detail['short_description'], _COMPARE_DESCRIPTION_CHARS)}")
        return "\n".join(lines) + f"\n\n{self.t['compare_end']}"

    def _course(self, intent: Intent) -> str:
        if intent.course is None:
            return self._which(intent.courses)
        return f"{self._detail(intent.course)}\n\n{self.t['cta']}"

    def _recommend(self, intent: Intent) -> str:
        if intent.topic == "top_level":
            c = intent.courses[0]
            return f"{self.t['top_level'].format(name=c.name, level=self._level(c.level))}\n\n{self.t['cta']}"
        if intent.topic == "next_level":
            header = self.t["next_level"].format(level=self._level(intent.level or ""))
            return f"{self._listing(header, intent.courses, hint=False)}\n\n{self.t['pick_short']}"
        if intent.topic == "starter":
            header = self.t["recommend_starter"]
            return f"{self._listing(header, intent.courses, hint=False)}\n\n{self.t['recommend_ask']}"
        header = self.t["recommend_profile"] if intent.topic == "profile" else self.t["recommend_topic"]
        return f"{self._listing(header, intent.courses, hint=False)}\n\n{self.t['pick_short']}"

    # --- prices ---
    def _price(self, intent: Intent) -> str:
        if intent.course is not None:
            c = intent.course
            text = self.t["price_one"].format(
                name=c.name,
                price=self._money(c.price, c.currency),
                modality=self._mode(c.modality),
                level=self._level(c.level).lower(),
            )
            if intent.currency and intent.currency != c.currency:  # "¿cuánto es en dólares?" of a course in pesos
                text += " " + self.t["price_currency_only"].format(currency=c.currency)
            return f"{text}\n\n{self.t['cta']}"
        if intent.courses and intent.topic != "overview":
            return self._prices(self.t["price_list"], self.catalogue.interleaved_by_price(intent.courses))
        scope_courses = list(intent.courses) or in_scope(self.catalogue.courses, intent.level, intent.modality)
        if not scope_courses and intent.modality:
            return self.t["modality_none"].format(
                target=_TARGET_LABELS[self.lang].get(intent.modality, intent.modality)
            )
        if not scope_courses:
            return self.t["level_none"].format(level=self._level(intent.level or ""))
        scope = self.t["price_scope"].format(level=self._level(intent.level)) if intent.level else ""
        if intent.modality:
            target = _TARGET_LABELS[self.lang].get(intent.modality, intent.modality)
            scope += self.t["price_scope_modality"].format(target=target.lower() if self.lang == "en" else target)
        ranges = []
        for currency in self.catalogue.currencies:
            group = [c for c in scope_courses if c.currency == currency]
            if not group:
                continue
            low, high = min(c.price for c in group), max(c.price for c in group)
            if len(group) == 1:
                ranges.append(self.t["price_single"].format(price=self._money(low, currency)))
            else:
                ranges.append(
                    self.t["price_range"].format(
                        low=self._money(low, currency), high=self._money(high, currency), n=len(group)
                    )
                )
        joiner = " y " if self.lang == "es" else " and "
        header = self.t["price_overview"].format(scope=scope, ranges=joiner.join(ranges))
        return self._prices(header, self.catalogue.interleaved_by_price(scope_courses))

    def _cheapest(self, intent: Intent) -> str:
        return self._extreme(intent, "cheapest")

    def _priciest(self, intent: Intent) -> str:
        return self._extreme(intent, "priciest")

    def _extreme(self, intent: Intent, key: str) -> str:
        if not intent.courses:
            return self._unclear(intent)
        lines = []
        for currency in self.catalogue.currencies:
            group = [c for c in intent.courses if c.currency == currency]
            if group:
                c = group[0]
                lines.append(self.t[key].format(currency=currency, name=c.name, price=self._money(c.price, c.currency)))
        text = (
            "\n".join(lines)
            if len(lines) == 1
            else self.t["extreme_intro"] + "\n" + "\n".join(f"• {line}" for line in lines)
        )
        return f"{text}\n\n{self.t['pick_short']}"

    def _budget(self, intent: Intent) -> str:
        currency = intent.currency or self.catalogue.main_currency
        amount = self._money(intent.amount or Decimal(0), currency)
        if intent.courses:
            return self._prices(self.t["budget"].format(amount=amount), intent.courses)
        in_currency = [c for c in self.catalogue.by_price() if c.currency == currency]
        if not in_currency:
            return self.t["budget_none_at_all"].format(currency=currency)
        c = in_currency[0]
        return self.t["budget_none"].format(
            amount=amount, currency=currency, name=c.name, price=self._money(c.price, c.currency)
        )

    # --- one course's facts ---
    def _mode(self, modality: str) -> str:
        return _MODALITIES_EN.get(modality, modality) if self.lang == "en" else modality

    def _modality(self, intent: Intent) -> str:
        if intent.topic == "recordings":  # a recordings bonus says yes; nothing else says either way
            return self._no_data(intent)
        targets = _TARGET_LABELS[self.lang]
        c = intent.course
        if c is not None:
            modality = self._mode(c.modality)
            if intent.modality:
                ok = c.modality in MODALITY_TARGETS.get(intent.modality, ())
                text = self.t["modality_yes" if ok else "modality_no"].format(name=c.name, modality=modality)
            else:
                text = self.t["modality_one"].format(name=c.name, modality=modality)
            if recordings := _recordings_bonus(c):
                text += " " + self.t["recordings"].format(bonus=recordings)
            return f"{text}\n\n{self.t['cta']}"
        if intent.modality:
            matching = in_scope(intent.courses or tuple(self.catalogue.by_level()), None, intent.modality)
            label = targets.get(intent.modality, intent.modality)
            within = label.lower() if self.lang == "en" else label  # inside a sentence
            if not matching:
                return self.t["modality_none"].format(target=within)
            if intent.level:  # "presencial para principiantes": that level, or say there is none at it
                at_level, level = in_scope(matching, intent.level, None), self._level(intent.level)
                if at_level:
                    return self._listing(self.t["modality_level_list"].format(target=label, level=level), at_level)
                return self._listing(self.t["modality_level_none"].format(target=within, level=level), matching)
            return self._listing(self.t["modality_list"].format(target=label), matching)
        lines = [self.t["modality_overview"]]
        for modality in ("online en vivo", "online a tu ritmo", "presencial", "híbrido"):
            names = [x.name for x in self.catalogue.by_level() if x.modality == modality]
            if names:
                lines.append(
                    f"• *{_label(self._mode(modality))}*: {', '.join(names[:4])}{'…' if len(names) > 4 else ''}"
                )
        return "\n".join(lines) + f"\n\n{self.t['pick_short']}"

    def _syllabus(self, intent: Intent) -> str:
        c = intent.course
        if c is None:
            return self._which(intent.courses, question=self.t["syllabus_which"])
        d = c.detail
        lines = [self.t["syllabus"].format(name=c.name, sessions=d["sessions_count"], hours=d["duration_hours"])]
        lines += [f"{s['number']}. {s['title']}" for s in d["sessions"][:MAX_SESSIONS]]
        return "\n".join(lines) + f"\n\n{self.t['cta']}"

    def _bonus(self, intent: Intent) -> str:
        certificate = intent.topic == "certificate"
        c = intent.course
        if c is not None:
            bonuses = c.detail["bonuses"]
            if certificate:
                found = [b for b in bonuses if _is_certificate(b["name"] + " " + b["description"])]
                if found:
                    return self.t["certificate_yes"].format(name=c.name, bonus=self._bonus_text(found[0], c))
                text = self.t["certificate_no"].format(name=c.name)
                if bonuses:
                    text += "\n" + self.t["bonus_one"].format(name=c.name) + "\n" + self._bonus_lines(c)
                return f"{text}\n\n{self.t['person']}"
            if not bonuses:
                return self.t["bonus_none"].format(name=c.name)
            return self.t["bonus_one"].format(name=c.name) + "\n" + self._bonus_lines(c)
        scope = intent.courses or tuple(self.catalogue.courses)
        if certificate:
            with_certificate = [
                c
                for c in scope
                if any(_is_certificate(b["name"] + " " + b["description"]) for b in c.detail["bonuses"])
            ]
            if not with_certificate:
                return f"{self.t['certificate_none']}\n\n{self.t['person']}"
            lines = [
                f"{n}. *{c.name}* — "
                + self._bonus_text(
                    next(b for b in c.detail["bonuses"] if _is_certificate(b["name"] + " " + b["description"])), c
                )
                for n, c in enumerate(with_certificate[:MAX_LISTED], 1)
            ]
            return f"{self.t['certificate_list']}\n" + "\n".join(lines) + f"\n\n{self.t['certificate_others']}"
        with_bonus = [c for c in scope if c.detail["bonuses"]]
        if not with_bonus:
            return self.t["certificate_none"]
        lines = [
            f"{n}. *{c.name}* — {self._bonus_text(c.detail['bonuses'][0], c)}"
            for n, c in enumerate(with_bonus[:MAX_LISTED], 1)
        ]
        return f"{self.t['bonus_list']}\n" + "\n".join(lines) + f"\n\n{self.t['pick_short']}"

    def _no_data(self, intent: Intent) -> str:
        table = _NO_DATA_EN if self.lang == "en" else _NO_DATA_ES
        what = table.get(intent.topic or "", table["dates"])
        c = intent.course
        if intent.topic == "recordings" and c is not None and (recordings := _recordings_bonus(c)):
            return f"{self.t['recordings_yes'].format(name=c.name, bonus=recordings)}\n\n{self.t['cta']}"
        if c is None:
            return f"{self.t['no_data'].format(what=what)} {self.t['person']}"
        facts = self.t["facts"].format(**self._facts(c))
        return f"{self.t['no_data_course'].format(what=what, name=c.name)} {facts}\n\n{self.t['person']}"

    # --- helpers ---
    def _facts(self, c: Course) -> dict[str, str]:
        """A course's level, format, length and price as the reply templates name them."""
        d = c.detail
        return {
            "level": self._level(c.level),
            "modality": self._mode(c.modality),
            "sessions": str(d["sessions_count"]),
            "hours": str(d["duration_hours"]),
            "price": self._money(c.price, c.currency),
        }

    def _which(self, courses: Sequence[Course], *, question: str | None = None) -> str:
        if not courses:
            return self._catalogue(Intent("catalogue"))
        return self._listing(question or self.t["which"], courses, hint=False)

    def _listing(
        self, header: str, courses: Sequence[Course], *, exclude: frozenset[str] = frozenset(), hint: bool = True
    ) -> str:
        page = [c for c in courses if c.id not in exclude]
        if not page:
            return self.t["no_more"]
        lines = [header, *(self._line(n, c) for n, c in enumerate(page[:MAX_LISTED], 1))]
        if len(page) > MAX_LISTED:
            lines.append(self.t["more_hint"].format(n=len(page) - MAX_LISTED))
        text = "\n".join(lines)
        if hint:
            text += "\n\n" + (self.t["pick_hint"] if len(page) > MAX_LISTED else self.t["pick_short"])
        return text

    def _prices(self, header: str, courses: Sequence[Course], *, exclude: frozenset[str] = frozenset()) -> str:
        """A price list: the page's courses grouped by currency (main first), cheapest first in each."""
        remaining = [c for c in courses if c.id not in exclude]
        if not remaining:
            return self.t["no_more"]
        page = self.catalogue.by_price(remaining[:MAX_LISTED])
        lines = [header]
        n = 0
        currencies = [cur for cur in self.catalogue.currencies if any(c.currency == cur for c in page)]
        for currency in currencies:
            if len(currencies) > 1:
                lines.append(self.t["group"].format(currency=currency))
            for c in page:
                if c.currency == currency:
                    n += 1
                    lines.append(self._line(n, c))
        if len(remaining) > MAX_LISTED:
            lines.append(self.t["more_hint"].format(n=len(remaining) - MAX_LISTED))
        return (
            "\n".join(lines) + "\n\n" + (self.t["pick_hint"] if len(remaining) > MAX_LISTED else self.t["pick_short"])
        )

    def _line(self, n: int, c: Course) -> str:
        return (
            f"{n}. *{_shorten(c.name, _LIST_NAME_CHARS)}* — {self._level(c.level)} — {self._money(c.price, c.currency)}"
        )

    def _detail(self, c: Course) -> str:
        d = c.detail
        t = self.t
        lines = [
            f"*{c.name}*",
            d["short_description"] if self.lang == "es" else "",
            f"• {t['detail_level']}: {self._level(c.level)}",
            f"• {t['detail_sessions']}: {d['sessions_count']} ({d['duration_hours']} {t['detail_hours']})",
            f"• {t['detail_modality']}: {_label(self._mode(c.modality))}",
            f"• {t['detail_price']}: *{self._money(c.price, c.currency)}*",
        ]
        if d["bonuses"]:
            bonuses = ", ".join(self._bonus_text(b, c) for b in d["bonuses"][:MAX_BONUSES])
            lines.append(f"• {t['detail_bonuses']}: {bonuses}")
        return "\n".join(line for line in lines if line)

    def _bonus_lines(self, c: Course) -> str:
        return "\n".join(f"• {self._bonus_text(b, c)}" for b in c.detail["bonuses"][:MAX_BONUSES])

    def _bonus_text(self, bonus: BonusInfo, c: Course) -> str:
        text = _shorten(bonus["name"], _BONUS_NAME_CHARS)
        if bonus["value"]:
            text += f" ({self.t['value'].format(price=self._money(Decimal(bonus['value']), c.currency))})"
        if _CONDITIONAL.search(bonus["description"]):  # "Incluida para alumnos de la modalidad presencial."
            text += f" — {_shorten(bonus['description'].strip().rstrip('.'), _BONUS_CONDITION_CHARS)}"
        return text

    def _level(self, level: str) -> str:
        return _label(_LEVELS_EN.get(level, level) if self.lang == "en" else level)

    def _money(self, amount: Decimal | None, currency: str) -> str:
        if amount is None:
            return self.t["price_tbd"]
        number = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
        return f"${number} {currency}"


_WITHOUT_CATALOGUE = frozenset(
    {"greeting", "help", "thanks", "goodbye", "consent", "handoff", "menu", "enrol", "no_data"}
)


def _is_certificate(text: str) -> bool:
    folded = text.lower()
    # "Descuento en certificación" (an exam voucher) is not a certificate of the course.
    return any(word in folded for word in ("certificado", "constancia", "diploma", "certificate"))


def _recordings_bonus(c: Course) -> str | None:
    """The name of the course's bonus that gives access to recordings, if it has one."""
    return next((b["name"] for b in c.detail["bonuses"] if "grabaci" in (b["name"] + b["description"]).lower()), None)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _label(value: str) -> str:
    return value[:1].upper() + value[1:]


def fit(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    """Keep the reply under `limit` by dropping whole lines from the end (long names, many bonuses)."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for line in text.split("\n"):
        if sum(len(k) + 1 for k in kept) + len(line) + 1 > limit - 2:
            break
        kept.append(line)
    if not kept:  # one enormous line
        return text[: limit - 1].rstrip() + "…"
    return "\n".join(kept).rstrip() + "\n…"
