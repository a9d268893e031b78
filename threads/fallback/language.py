"""Reading what a customer writes on WhatsApp: accents, WhatsApp spellings, typos and the language.

Everything here is pure: a message in, its normalised words out. Spanish is the default; a
message with more English than Spanish marker words is English.
"""

import re
from dataclasses import dataclass

from courses.text import fold

_BRACKETED = re.compile(r"\[[^\]]*\]")  # notes our service adds, e.g. "[El usuario adjuntó 1 archivo…]"
_WORD = re.compile(r"[a-z0-9][a-z0-9+#]*")

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


def read(text: str) -> Reading:
    """Fold a message, drop our bracketed notes and WhatsApp's italics, fix known spellings."""
    folded = fold(_BRACKETED.sub(" ", text or "")).replace("_", " ").replace("’", "'")
    raw_words = _WORD.findall(folded.replace("'", ""))
    words = tuple(_SPELLINGS.get(word, word) for word in raw_words)
    return Reading(words=words, lang=detect_language(raw_words), raw=folded)


def detect_language(words: tuple[str, ...] | list[str]) -> str:
    """Return "en" when the message has more English than Spanish marker words, else "es"."""
    english = sum(1 for w in words if w in _ENGLISH and w not in _SHARED and w not in _SPANISH)
    spanish = sum(1 for w in words if w in _SPANISH and w not in _SHARED)
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
            r"call back)\b"
        ),
    ),
    ("call", re.compile(r"\b(?:quiero|necesito|prefiero) (?:una )?llamada\b|\bpor telefono\b")),
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
    normalised = read(text).text
    for reason, pattern in _HANDOFF_PATTERNS:
        if pattern.search(normalised):
            return reason
    return None


def is_handoff_request(text: str) -> bool:
    """Tell whether the user asks for a person: an advisor, a human, a call or a complaint (Spanish or English)."""
    return handoff_reason(text) is not None


# --- Consent keywords (issue 10's consent feature intercepts these before the responder) ----

_OPT_OUT = frozenset(
    {"baja", "stop", "alto", "detener", "cancelar", "unsubscribe", "no mas mensajes", "darme de baja", "parar", "stopp"}
)
_OPT_IN = frozenset({"alta", "start", "reanudar", "suscribir", "suscribirme", "unstop"})


def consent_keyword(reading: Reading) -> str | None:
    """Return "opt_out" or "opt_in" when the whole message is one of those keywords, else None."""
    phrase = " ".join(reading.words)
    if phrase in _OPT_OUT:
        return "opt_out"
    if phrase in _OPT_IN:
        return "opt_in"
    return None
