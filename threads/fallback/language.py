"""Reading what a customer writes on WhatsApp: accents, WhatsApp spellings, typos and the language.

Everything here is pure: a message in, its normalised words out. Spanish is the default; a
message with more English than Spanish marker words is English.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from courses.text import fold

from .. import consent

_BRACKETED = re.compile(r"\[[^\]]*\]")  # notes our service adds, e.g. "[El usuario adjuntó 1 archivo…]"
_WORD = re.compile(r"[a-z0-9][a-z0-9+#]*")
# "what's the cheapest?" is not about WhatsApp ("whats" is also how Spanish speakers shorten it).
_WHAT_IS = re.compile(r"\bwhat's\b|\bwhats(?= (?:the|a|an|your|it|its|this|that|included|up|in|new|next)\b)")

# WhatsApp spellings and frequent typos, folded, to the word the rules know.
_SPELLINGS = {
    **dict.fromkeys(["q", "k", "ke", "qe", "q'", "qu"], "que"),
    **dict.fromkeys(["xq", "pq", "xk", "porq", "porke", "xke"], "porque"),
    **dict.fromkeys(["cuanto", "cuant", "cuantoo", "cunto", "cuato", "qnto", "cuánto"], "cuanto"),
    **dict.fromkeys(["presio", "presios", "precio$", "precioo", "prezio", "costoo"], "precio"),
    **dict.fromkeys(["info", "infos", "informes", "infor", "informacion", "informasion", "imformacion"], "informacion"),
    **dict.fromkeys(["tmb", "tb", "tambn", "tbn", "tambien", "tmbn"], "tambien"),
    **dict.fromkeys(["porfa", "porfavor", "xfa", "xfavor", "plis", "pls", "please", "plz"], "favor"),
    **dict.fromkeys(["grax", "grasias", "gracas", "graciass", "graciaas", "grcs", "gracia", "thx", "ty"], "gracias"),
    **dict.fromkeys(["cusros", "crusos", "curos", "cursso", "cursoss", "cuross", "cursis"], "cursos"),
    **dict.fromkeys(["crso", "cuso", "curzo"], "curso"),
    **dict.fromkeys(["temaro", "temrio", "temarios"], "temario"),
    **dict.fromkeys(["kiero", "qiero", "quero", "kero"], "quiero"),
    **dict.fromkeys(["nesecito", "nececito", "necesto", "nesesito"], "necesito"),
    **dict.fromkeys(["ola", "hla", "holaa", "holaaa", "holis", "holi", "hols"], "hola"),
    **dict.fromkeys(["bn"], "bien"),
    **dict.fromkeys(["dlls", "dls", "dolares", "dolar", "usd", "us"], "usd"),
    **dict.fromkeys(["mxn", "pesos", "peso", "mx"], "mxn"),
    **dict.fromkeys(["precencial", "presensial", "presecial", "precensial"], "presencial"),
    **dict.fromkeys(["varato", "barat0", "baratito", "baratitos"], "barato"),
    **dict.fromkeys(["sertificado", "certificao", "certifcado", "certificdo", "sertificados"], "certificado"),
    **dict.fromkeys(["inscrivo", "inscrivirme", "incribirme", "inscribirm", "increibirme"], "inscribirme"),
    **dict.fromkeys(["qndo", "cuado", "kuando", "cuandoo"], "cuando"),
    **dict.fromkeys(["orario", "orarios"], "horario"),
    **dict.fromkeys(["empiesa", "empiesan"], "empieza"),
    **dict.fromkeys(["dnd", "dond"], "donde"),
    **dict.fromkeys(["ablar", "hablr"], "hablar"),
    **dict.fromkeys(["acesor", "asesro", "asesorr"], "asesor"),
    **dict.fromkeys(["x"], "por"),
    **dict.fromkeys(["d"], "de"),
    **dict.fromkeys(["tb"], "tambien"),
    **dict.fromkeys(["modalida", "modalidades"], "modalidad"),
    **dict.fromkeys(["pyton", "phyton", "pithon", "pyhton"], "python"),
    **dict.fromkeys(["deskuento", "descuentoo"], "descuento"),
    **dict.fromkeys(["nd", "nda"], "nada"),
    **dict.fromkeys(["xfis"], "favor"),
    **dict.fromkeys(["aki", "aca"], "aqui"),
    **dict.fromkeys(["hrs", "hr"], "horas"),
    **dict.fromkeys(["okey", "oki", "okis", "oka", "okas", "okay", "okok", "okk"], "ok"),
    **dict.fromkeys(["tiendita", "tienditas"], "tienda"),
    **dict.fromkeys(["negocito", "changarro", "changarrito"], "negocio"),
    **dict.fromkeys(["cursito", "cursillo"], "curso"),
    **dict.fromkeys(["cursitos", "cursillos"], "cursos"),
    **dict.fromkeys(["profe", "profa", "profesores", "maestros"], "profesor"),
    **dict.fromkeys(["whats", "wasap", "guasap", "whatsap", "wsp", "wa"], "whatsapp"),
}

_ENGLISH = frozenset(
    [
        "the",
        "you",
        "your",
        "do",
        "does",
        "have",
        "has",
        "how",
        "much",
        "what",
        "which",
        "is",
        "are",
        "course",
        "courses",
        "price",
        "prices",
        "cost",
        "costs",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "please",
        "want",
        "need",
        "can",
        "i",
        "im",
        "am",
        "an",
        "number",
        "option",
        "my",
        "for",
        "beginners",
        "beginner",
        "with",
        "about",
        "any",
        "there",
        "where",
        "when",
        "cheapest",
        "cheap",
        "expensive",
        "learn",
        "tell",
        "of",
        "in",
        "to",
        "it",
        "this",
        "that",
        "one",
        "and",
        "or",
        "is",
        "it's",
        "dont",
        "don't",
        "know",
        "would",
        "like",
        "offer",
        "recommend",
        "should",
        "start",
        "certificate",
        "certificates",
        "syllabus",
        "bye",
        "goodbye",
        "talk",
        "speak",
        "human",
        "person",
        "someone",
        "call",
        "who",
        "teaches",
        "data",
        "analysis",
        "vision",
        "computer",
        "ethics",
        "cheaper",
        "show",
        "more",
        "other",
        "others",
        "see",
        "list",
        "yes",
        "ok",
        "okay",
        "good",
        "great",
        "nice",
        "morning",
        "afternoon",
        "evening",
        "anything",
        "something",
        "under",
        "below",
        "help",
        "stop",
        "start",
        "unsubscribe",
        "whats",
        "lot",
    ]
)
_SPANISH = frozenset(
    [
        "que",
        "de",
        "el",
        "la",
        "los",
        "las",
        "quiero",
        "cuanto",
        "tienen",
        "hola",
        "gracias",
        "curso",
        "cursos",
        "para",
        "con",
        "por",
        "una",
        "un",
        "y",
        "es",
        "como",
        "mi",
        "precio",
        "hay",
        "algo",
        "cual",
        "cuales",
        "soy",
        "busco",
        "favor",
        "donde",
        "cuando",
        "se",
        "lo",
        "su",
        "mas",
        "buenas",
        "buenos",
        "dias",
        "tardes",
        "noches",
        "informacion",
        "del",
        "al",
        "en",
        "necesito",
        "puedo",
        "tiene",
        "cuesta",
        "sobre",
        "este",
        "ese",
        "esa",
        "esta",
        "quisiera",
        "me",
        "te",
        "nos",
        "saber",
        "tambien",
        "ver",
        "dame",
        "hablar",
        "persona",
        "barato",
        "caro",
        "tengo",
        "trabajo",
        "negocio",
        "empieza",
        "horario",
        "pago",
    ]
)
# Words both languages use: they say nothing about which one it is.
_SHARED = frozenset(
    {"no", "ok", "okay", "a", "me", "online", "python", "marketing", "machine", "learning", "bye", "mlops", "llms"}
)


@dataclass(frozen=True)
class Reading:
    """A message as the rules read it: folded words (spellings fixed) and its language."""

    words: tuple[str, ...]
    lang: str  # "es" or "en"
    raw: str  # the folded text, punctuation kept (for amounts such as "3,000")

    @property
    def text(self) -> str:
        """The words joined by single spaces, padded, so a phrase matches as " word word "."""
        return f" {' '.join(self.words)} "

    def has(self, *phrases: str) -> bool:
        """Tell whether any of these words or phrases (already folded) occurs as whole words."""
        text = self.text
        return any(f" {phrase} " in text for phrase in phrases)


# Emoji that say a word: a thumbs-up is an "ok", a waving hand a greeting.
_EMOJI_WORDS = {"👍": " ok ", "👌": " ok ", "🙏": " gracias ", "✅": " ok ", "👋": " hola "}
_LONG_RUN = re.compile(r"([a-z])\1{2,}")  # "holaaaa", "siiii"
_TRAILING_DOUBLE_VOWEL = re.compile(r"([aeiou])\1+$")  # "ayudaa", "infoo"


def _squeeze(word: str) -> str:
    """Undo letters typed twice for emphasis, unless the word is one we know as written."""
    if word in _SPELLINGS:
        return word
    word = _LONG_RUN.sub(r"\1", word)
    return _TRAILING_DOUBLE_VOWEL.sub(r"\1", word) if len(word) >= 5 else word  # not "see", "too"


def read(text: str) -> Reading:
    """Fold a message, drop our bracketed notes and WhatsApp's italics, fix known spellings."""
    text = _BRACKETED.sub(" ", text or "")
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    folded = _WHAT_IS.sub("what is", fold(text).replace("_", " ").replace("’", "'"))
    raw_words = _WORD.findall(folded.replace("'", ""))
    words = tuple(_SPELLINGS.get(squeezed, squeezed) for squeezed in map(_squeeze, raw_words))
    return Reading(words=words, lang=detect_language(raw_words, words), raw=folded)


def detect_language(words: Sequence[str], spelled: Sequence[str] | None = None) -> str:
    """Return "en" when the message has more English than Spanish marker words, else "es".

    English is counted on the words as written ("please" stays English); Spanish on the words with
    WhatsApp spellings fixed (`spelled`: "x" is "por", "q" is "que").
    """
    english = sum(1 for w in words if w in _ENGLISH and w not in _SHARED and w not in _SPANISH)
    spanish = sum(1 for w in (words if spelled is None else spelled) if w in _SPANISH and w not in _SHARED)
    return "en" if english > spanish else "es"


# --- Requests for a person (issue 11's handoff acts on these) -------------------------------

_PERSON = (
    r"(?:una |un |a |an |)(?:persona|personas|humano|humana|human|person|alguien|someone|somebody|asesor|asesora|"
    r"agente|agent|ejecutivo|ejecutiva|representante|representative|vendedor|vendedora|gente|real person|"
    r"persona real|people)"
)
_HANDOFF_PATTERNS = (
    (
        "person",
        re.compile(
            r"\b(?:hablar|platicar|comunicarme|comunicar|chatear|contactar|atender|atienda|atiende|talk|speak|chat)"
            rf"(?: (?:con|with|to))? {_PERSON}\b"
        ),
    ),
    (
        "person",
        re.compile(
            r"\b(?:asesor|asesora|asesores|asesoria|humano|humana|human|agente humano|persona real|real person)\b"
        ),
    ),
    (
        "person",
        re.compile(
            r"\b(?:quiero|necesito|prefiero|pasame|pasenme|comunicame|comuniquenme|want|need|prefer|get me)"
            r"(?: con| a| to| with)? (?:una |un |a |an )?"
            r"(?:persona|alguien|someone|person|asesor|representante|representative|humano|human)\b"
        ),
    ),
    ("person", re.compile(r"\b(?:me atiende|me atienda|que me atienda) (?:una persona|alguien|un humano)\b")),
    (
        "call",
        re.compile(
            r"\b(?:me|nos) (?:pueden|puedes|puede|podria|podrian|podrias|quieren|quiere) "
            r"(?:llamar|marcar|hablar|contactar)\b"
        ),
    ),
    (
        "call",
        re.compile(
            r"\b(?:llamame|llamenme|marcame|marquenme|llamarme|marcarme|call me|give me a call|phone me|callback|"
            r"que me (?:llamen|marquen|llame|marque|hablen por telefono)|"
            r"call back)\b"
        ),
    ),
    ("call", re.compile(r"\b(?:quiero|necesito|prefiero) (?:una )?llamada\b|\bpor telefono\b")),
    (
        "call",
        re.compile(
            r"\b(?:llamarles|llamarlos|marcarles|marcarlos|hablarles)\b|"
            r"\b(?:telefono|numero de telefono|numero para llamar|phone number|a number to call)\b"
        ),
    ),
    # The whole message is the person asked for: "un agente por favor", "an agent please".
    (
        "person",
        re.compile(
            r"^(?:(?:quiero|necesito|want|need) )?(?:un |una |a |an )?"
            r"(?:agente|agent|ejecutivo|ejecutiva|representante|representative|persona|operador|operadora|operator)"
            r"(?: (?:por )?favor)?$"
        ),
    ),
    (
        "complaint",
        re.compile(
            r"\b(?:queja|quejas|quejarme|quejar|reclamo|reclamacion|reclamar|denuncia|complaint|complain|molesto|molesta|pesimo|fraude|estafa)\b"
        ),
    ),
)


def handoff_reason(text: str) -> str | None:
    """Return why the message asks for a person ("person", "call", "complaint"), or None.

    Pure and cheap: the handoff feature calls it on every rule-based turn. A course that merely
    mentions people ("para personas sin experiencia") or agents ("curso de agentes") is not one.
    """
    normalised = read(text).text.strip()
    for reason, pattern in _HANDOFF_PATTERNS:
        if pattern.search(normalised):
            return reason
    return None


def is_handoff_request(text: str) -> bool:
    """Tell whether the user asks for a person: an advisor, a human, a call or a complaint (Spanish or English)."""
    return handoff_reason(text) is not None


# --- Consent keywords (threads.consent intercepts these before the responder) --------------

# "Ya no quiero recibir mensajes": a wish to stop that is not the keyword. The responder cannot opt
# anyone out (only the keyword does, through `threads.consent`), so it answers with the keyword.
_STOP_REQUEST = re.compile(
    r"\b(?:ya )?no (?:quiero|deseo) (?:recibir|que me (?:manden|envien|escriban))|"
    r"\bno me (?:manden|envien|escriban|mande|envie)(?: mas| nada)?\b|"
    r"\bdej(?:en|a|ar) de (?:escribirme|mandarme|enviarme|recibir)|"
    r"\b(?:stop|quit) (?:sending|texting|messaging|writing)|\bdon ?t (?:text|message|write to) me|"
    r"\bunsubscribe me\b|\b(?:darme|dame|denme) de baja de (?:los |estos |sus )?mensajes"
)


def consent_keyword(reading: Reading) -> str | None:
    """Return "opt_out" or "opt_in" when the message is one of the product's consent keywords
    (`threads.consent.keyword_of`, the same test the consent feature applies), "opt_out_request"
    when it asks to stop in other words, else None."""
    keyword = consent.keyword_of(reading.raw)
    if keyword is not None:
        return str(keyword)
    if _STOP_REQUEST.search(reading.text):
        return "opt_out_request"
    return None
