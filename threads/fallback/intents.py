"""What the customer wants, read by rules, resolved against the catalogue and the conversation's memory.

`classify` reads one message; `detect` reads a burst (the most recent specific request wins);
`Memory` is what the conversation so far tells us: the course last discussed, the list last
shown (so "el segundo", "ese" and "¿y cuánto cuesta?" resolve) and the request behind it (so
"ver más" shows the rest). Everything here is pure: the catalogue comes in as a snapshot.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from .catalogue import LEVELS, NAME, SHORT, Catalogue, Course, stem, words_of
from .language import Reading, consent_keyword, handoff_reason, read

MAX_LISTED = 4
MENU_MARKERS = ("Puedo ayudarte con:", "I can help you with:")


@dataclass(frozen=True)
class Intent:
    """What a message asks for, with the course(s) it points at.

    `course` is the one course the answer is about, when there is one; `courses` the ranked
    candidates (a list to show, or the courses a general answer covers).
    """

    kind: str
    lang: str = "es"
    course: Course | None = None
    courses: tuple[Course, ...] = ()
    level: str | None = None
    modality: str | None = None  # presencial, online, en vivo, a tu ritmo, híbrido
    amount: Decimal | None = None
    currency: str | None = None
    topic: str | None = None  # no_data: what is missing; bonus: "certificate"; consent: opt_out/opt_in; handoff: reason
    unmatched: tuple[str, ...] = ()
    level_missing: bool = False  # the topic exists, but not at the level asked for
    listing: "Intent | None" = None  # "more": the request whose list continues
    exclude: frozenset[str] = frozenset()  # ids already shown (for "more")


@dataclass(frozen=True)
class Memory:
    """What the conversation so far says, for follow-ups; empty after a thread reset."""

    last_course: Course | None = None
    last_list: tuple[Course, ...] = ()
    last_intent: Intent | None = None
    listing: Intent | None = None
    shown: frozenset[str] = frozenset()
    menu_shown: bool = False
    lang: str | None = None  # the language the user last wrote in, when a message could tell


# Intents that only win when nothing more specific was said in the burst.
WEAK = frozenset({"greeting", "thanks", "unclear", "goodbye"})
# Intents a follow-up such as "¿y el de marketing?" inherits.
_INHERITED = frozenset({"price", "modality", "syllabus", "bonus", "no_data"})
LISTS = frozenset(
    {"catalogue", "search", "price", "budget", "recommend", "modality", "bonus", "cheapest", "priciest", "compare"}
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- Vocabulary (folded, spellings already fixed by `language.read`) ------------------------

_STOP = _words(
    "a al algo alguien alguna alguno algunos algunas aprender aqui bien busco como con cual cuales cuando cuanto "
    "cuantos cuantas dame de del detalle detalles dime donde el ella en es esa ese eso esta estan este esto estos "
    "esas esos estas estudiar favor gustaria hacer hay ia ai inteligencia artificial interesa interesan interesada "
    "interesado la las le les lo los mas me mi mis muy necesito no nos o ok okay para pero por porque que quiero "
    "quisiera saber se si sobre son su sus te tengo tipo tomar tu tus un una uno unos usted ustedes ver y ya "
    "mejor muestrame muestra ensename otro otra otros otras prefiero entonces tambien solo tal vez curso cursos "
    "clase tienen tiene ofrecen ofrece opciones opcion programas informacion info oye hola buenas buenos buen dia "
    "dias tardes noches gracias muchas mil puedes puede pueden podria podrias quieres sabes cuentame contame "
    "platicame explicame decirme dar dan daria ser estar esta estoy soy eres era ando voy vamos va sea "
    "the a an of for to in on with about and or is are do does have has i me my you your what which how "
    "any some there this that it its course courses class please want need like would could can tell know "
    "learn get show give more info something anything just also very so but if ok yes no hi hello hey "
    "thanks thank uno dos tres primero primera segundo segunda tercero tercera cuarto ultimo ultima "
    "first second third fourth last one two three nivel level niveles sale vale va dale listo perfecto genial "
    "excelente claro bueno pues igual asi nada todo todos todas cosa cosas onda tal cual mucho poco manera forma "
    "quiero necesitaria empezar empiezo iniciar aprenda aprendo saber se sabe disponible disponibles tienes "
    "ahorita ahora hoy manana luego despues antes siempre nunca aun todavia mismo misma ningun ninguno "
    "algun alguna cuando fecha fechas inicio inicia empieza empiezan comienza arranca horario horarios hora turno "
    "pago pagar tarjeta descuento promocion beca donde direccion requisitos reembolso cupo instructor factura "
    "adios bye chao funciona whats what's tan caro cara caros aprendo enseñan ensenan trata incluye grupo proximo "
    "siguiente real alguien persona llamar asesor humano queja gente usar uso sirve mejor escribo escribir "
    "escribe escriben posible posibles pregunta preguntar duda dudas favor ayudar ayuda gustaria encanta "
    "parece pienso creo digo dijo dices llego llega paso pasa tiempo veces vez casa semana mes meses ano anos "
    "forma formas metodo metodos medio medios interes intereses sin aceptan acepta imparten imparte impartir "
    "imparten dictan completo completa completos todo anuncio publicacion vi visto recibir mandar manda mandas "
    "pasas pasan enviar envias envian preguntarte pregunto desde trabajo trabaja trabajar trabajamos "
    "consulto consultar consultarlo"
)
_SHORT_TOPICS = frozenset({"ml", "bi", "ux", "ui", "ai", "api", "rag", "ia"})
_SYNONYMS = {
    "programar": ("python",),
    "programacion": ("python",),
    "programando": ("python",),
    "codigo": ("python",),
    "coding": ("python",),
    "code": ("python",),
    "ml": ("machine", "learning"),
    "data": ("datos",),
    "analysis": ("analisis",),
    "analytics": ("analisis", "datos"),
    "ethics": ("etica",),
    "ethical": ("etica",),
    "automation": ("automatizacion",),
    "automate": ("automatizacion",),
    "business": ("negocio",),
    "images": ("imagenes",),
    "image": ("imagenes",),
    "fotos": ("imagenes",),
    "cloud": ("nube",),
    "agents": ("agentes",),
    "agent": ("agentes",),
    "generative": ("generativa",),
    "computer": ("computadora",),
    "mercadotecnia": ("marketing",),
    "mercadeo": ("marketing",),
    "chatgpt": ("prompt", "chatgpt"),
    "excel": ("datos",),
    "estadistica": ("datos",),
    "gpt": ("chatgpt",),
    "llm": ("llms",),
    "dl": ("deep", "learning"),
    "cv": ("vision",),
    "intro": ("introduccion",),
    "instagram": ("redes", "sociales"),
    "facebook": ("redes", "sociales"),
    "tiktok": ("redes", "sociales"),
    "reels": ("video",),
    "deploy": ("despliegue",),
    "produccion": ("produccion", "despliegue"),
    "production": ("produccion", "despliegue"),
    "deployment": ("despliegue",),
    "desplegar": ("despliegue",),
    "privacy": ("privacidad",),
    "law": ("regulacion",),
    "laws": ("regulacion",),
    "leyes": ("ley", "regulacion"),
    "legal": ("regulacion",),
    "politica": ("politicas",),
    "marketin": ("marketing",),
}
_PRICE = _words(
    "precio precios costo costos cuesta cuestan cobran valen tarifa tarifas inversion mensualidad mensualidades "
    "price prices cost costs fee fees pricing colegiatura caro cara caros costoso"
)
_PRICE_PHRASES = re.compile(
    r"(?<! en) cuanto (?!dura|duran|tiempo|horas|sesiones|clases|dias|semanas|alumnos|personas)|^ cuanto $|"
    r" how much | cuanto $| en cuanto (?:sale|salen|esta|estan|queda|quedan|lo dejan|me lo dejan|cuesta|cuestan) |"
    r"^ a como (?:esta|estan|sale|salen|queda|lo dejan|me lo dejan) "
)
_CHEAP = _words(
    "barato baratos barata baratas economico economicos economica economicas accesible accesibles "
    "cheap cheapest cheaper affordable"
)
_CHEAP_PHRASES = (
    " menos caro ",
    " mas bajo ",
    " precio bajo ",
    " low cost ",
    " least expensive ",
    " menor precio ",
    " menor costo ",
    " precio menor ",
    " lowest price ",
)
# "el más barato de esos": a price extreme within the list just shown.
_OF_THOSE = (
    " de esos ",
    " de estos ",
    " de esas ",
    " de estas ",
    " de ellos ",
    " of those ",
    " of these ",
    " de la lista ",
)
_PRICEY_PHRASES = (
    " mas caro ",
    " mas caros ",
    " mas costoso ",
    " mas costosos ",
    " most expensive ",
    " mayor precio ",
    " mayor costo ",
    " precio mas alto ",
    " highest price ",
    " priciest ",
    " mas cara ",
)
_BUDGET = re.compile(
    r"(?:menos de|hasta|maximo|max|no mas de|presupuesto(?: es)?(?: de)?|menor a|menores a|debajo de|abajo de|"
    r"under|less than|below|up to|budget(?: of| is)?|tengo|cuento con|(?:gastar|pagar|invertir|spend) (?:mas de|hasta)|"
    r"(?:gastar|pagar|invertir|spend) (?:more than|max)|por menos de|alcanza con)\s*"
    r"(?:(?:unos|como|algo as[ií]|about|around)\s*)?\$?\s*(\d[\d,\.]*)\s*"
    r"(k|mil)?\s*(pesos|mxn|dolares|dolar|dlls|usd|us|dollars)?"
)
_MODALITY_WORDS = {
    "presencial": "presencial",
    "presenciales": "presencial",
    "online": "online",
    "linea": "online",
    "virtual": "online",
    "virtuales": "online",
    "distancia": "online",
    "remoto": "online",
    "remota": "online",
    "remotos": "online",
    "remotas": "online",
    "remote": "online",
    "zoom": "online",
    "vivo": "en vivo",
    "live": "en vivo",
    "grabado": "a tu ritmo",
    "grabados": "a tu ritmo",
    "grabada": "a tu ritmo",
    "grabadas": "a tu ritmo",
    "recorded": "a tu ritmo",
    "ritmo": "a tu ritmo",
    "asincrono": "a tu ritmo",
    "asincrona": "a tu ritmo",
    "asincronos": "a tu ritmo",
    "asincronas": "a tu ritmo",
    "hibrido": "híbrido",
    "hibrida": "híbrido",
    "hibridos": "híbrido",
    "hibridas": "híbrido",
    "hybrid": "híbrido",
    "modalidad": "",
    "format": "",
}
# What a modality question may target → the stored modalities that satisfy it.
MODALITY_TARGETS = {
    "presencial": ("presencial", "híbrido"),
    "online": ("online en vivo", "online a tu ritmo", "híbrido"),
    "en vivo": ("online en vivo", "híbrido"),
    "a tu ritmo": ("online a tu ritmo",),
    "híbrido": ("híbrido",),
}


def in_scope(courses: Sequence[Course], level: str | None, modality: str | None) -> list[Course]:
    """The courses at `level` whose modality satisfies `modality` (either empty: any)."""
    wanted = MODALITY_TARGETS.get(modality, ()) if modality else None
    return [c for c in courses if (not level or c.level == level) and (wanted is None or c.modality in wanted)]


_MODALITY_PHRASES = {
    " in person ": "presencial",
    " en persona ": "presencial",
    " self paced ": "a tu ritmo",
    " desde casa ": "online",
    " desde mi casa ": "online",
    " from home ": "online",
}
# Self-paced in other words; said with "cuando" these are about the format, not a start date.
_SELF_PACED = re.compile(
    r" (?:cuando (?:yo )?quiera|a mi (?:propio )?(?:ritmo|tiempo|paso)|a la hora que (?:yo )?quiera|"
    r"a cualquier hora|at my own pace|any ?time|whenever i want) "
)
_SYLLABUS = _words(
    "temario temarios temas contenido contenidos modulos modulo sesiones sesion dura duran duracion "
    "syllabus curriculum topics sessions modules lessons agenda"
)
_SYLLABUS_PHRASES = (
    " plan de estudios ",
    " que se ve ",
    " que voy a aprender ",
    " que aprendo ",
    " que se aprende ",
    " que ensenan ",
    " cuanto dura ",
    " cuanto tiempo ",
    " cuantas horas ",
    " how long ",
    " what will i learn ",
    " el programa ",
    " que ven ",
    " que veo ",
    " de que trata ",
    " de que se trata ",
    " que aprendere ",
    " que voy a ver ",
    " que temas ",
    " cuantas clases ",
    " how many sessions ",
    " que veremos ",
    " que vamos a ver ",
    " que vamos a aprender ",
    " que aprenderemos ",
    " que se vera ",
    " que se ven ",
    " que me ensenan ",
    " de que va ",
    " de que es ",
    " que ensena ",
    " what does it cover ",
    " what topics ",
)
# Naming the syllabus itself outranks "incluye": "¿qué incluye el temario?" asks for the syllabus.
_SYLLABUS_NOUNS = _words("temario temarios contenido contenidos syllabus curriculum modulos programa")
_BONUS = _words(
    "bono bonos bonus bonuses regalo regalos extra extras incluye incluyen beneficios included includes perks gift"
)
_INCLUDED = _words("incluida incluido incluidas incluidos")
_CERTIFICATE = _words(
    "certificado certificados certificacion certificaciones constancia constancias diploma diplomas certificate "
    "certificates certification acreditacion reconocimiento titulo curricular"
)
_ENROL = _words(
    "inscribir inscribirme inscribo inscripcion inscripciones apuntarme apunto registrarme comprar compro enroll "
    "enrol register apartar registro registrar registrarse reservar reservo reserva aparto separar inscribe "
    "inscribimos signup"
)
_ENROL_PHRASES = (
    " lo quiero ",
    " lo tomo ",
    " me apunto ",
    " sign up ",
    " sign me up ",
    " buy ",
    " quiero entrar ",
    " como me inscribo ",
    " quiero pagar ",
    " lo compro ",
    " mi lugar ",
    # taking the course just discussed ("quiero tomar un curso de…" is still a search)
    " tomar el curso ",
    " tomar ese curso ",
    " tomar este curso ",
    " quiero tomarlo ",
    " take the course ",
    " take this course ",
    " take that course ",
    " take it ",
)
# What the catalogue does not hold, in the order of the questions customers ask most.
_NO_DATA = (
    (
        "dates",
        re.compile(
            r" (?:cuando|fecha|fechas|inicio|inicia|inician|empieza|empiezan|comienza|comienzan|arranca|arrancan|"
            r"generacion|cohorte|when|start|starts|dates|date) |proximo grupo|siguiente grupo|nuevo grupo"
        ),
    ),
    (
        "schedule",
        re.compile(
            r" (?:horario|horarios|turno|turnos|schedule|sabados|domingos|weekends|weekend|evenings) |"
            r"a que hora|que hora|"
            r"que dias|entre semana|fines? de semana|what time|en la noche|por las tardes|en las tardes"
        ),
    ),
    (
        "payment",
        re.compile(
            r"formas? de pago|metodos? de pago|medios? de pago| (?:tarjeta|tarjetas|transferencia|deposito|oxxo|paypal|"
            r"efectivo|msi|parcialidades|factura|facturar|installments|payment|payments|mercadopago|pagos) |"
            r"meses sin intereses|a meses|pagar con|pago con|puedo pagar|como pago|como se paga|donde pago|"
            r"pagar en|credit card| pay |aceptan pago| (?:iva|impuestos|tax|taxes|invoice) "
        ),
    ),
    (
        "discount",
        re.compile(
            r" (?:descuento|descuentos|promocion|promociones|promo|promos|cupon|cupones|beca|becas|rebaja|discount|"
            r"discounts|coupon|scholarship|2x1) |precio especial|oferta especial"
        ),
    ),
    (
        "location",
        re.compile(
            r"(?<!por) donde (?!empiezo|empezar|inicio|me inscribo|me registro|inscribirme|registrarme|me apunto|pago)|"
            r" (?:direccion|ubicacion|sede|sedes|address|extranjero) |"
            r"en que ciudad|where is|where are|where do|otro pais|otra ciudad|fuera de mexico"
        ),
    ),
    (
        "refund",
        re.compile(
            r" (?:reembolso|reembolsos|devolucion|devoluciones|cancelacion|refund|refunds) |"
            r"darme de baja del|cancelar mi"
        ),
    ),
    (
        "requirements",
        re.compile(
            r" (?:requisitos|requisito|prerrequisitos|prerequisitos|requirements|prerequisites) |"
            r"conocimientos previos|que necesito saber|necesito saber|hay que saber|se necesita saber"
        ),
    ),
    (
        "instructor",
        re.compile(
            r" (?:instructor|instructora|instructores|teacher|teachers) |"
            r"quien (?:da|imparte|ensena|lo da|los da)|quienes (?:dan|imparten)|who teaches|"
            r"quien (?:es|son|seria|serian) (?:el|la|los|las) (?:profesor|profesora|maestro|maestra|instructor|ponente)"
        ),
    ),
    ("seats", re.compile(r" (?:cupo|cupos|seats|lugares) |hay lugar|quedan lugar")),
    (
        "group",
        re.compile(
            r"cuantos (?:alumnos|estudiantes|participantes)|cuantas personas (?:por|en el|son)|"
            r"(?:alumnos|estudiantes|personas) por grupo|tamano del grupo|group size|how many students"
        ),
    ),
    (
        "trial",
        re.compile(
            r"clases? (?:muestra|de muestra|de prueba|gratis|gratuita)| (?:gratis|gratuito|gratuita|free trial|trial) |"
            r"prueba gratis|periodo de prueba"
        ),
    ),
    (
        "language",
        re.compile(
            r" (?:en|in) (?:ingles|english) | (?:que|what|which) (?:idioma|language) |"
            r" idioma (?:del|de los|de las|en que|es) | languages? (?:of|is|are) (?:the |it )?(?:course|class|taught)|"
            r" taught in "
        ),
    ),
    (
        "jobs",
        re.compile(
            r"bolsa de trabajo|garantia de (?:empleo|trabajo)|garantizan (?:el )?(?:empleo|trabajo)|"
            r"job (?:guarante|placement)|guarante\w* (?:a )?job"
        ),
    ),
    (
        "age",
        re.compile(
            r" (?:ninos|ninas|nino|nina|kids|kid|children|child|adolescentes|adolescente|teens|teenagers) |"
            r"edad minima|minimum age|how old|para mi (?:hijo|hija)|for my (?:son|daughter)"
        ),
    ),
)
_CURRENCY_WORDS = {
    **dict.fromkeys(("dolares", "dolar", "dlls", "usd", "dollars", "dollar"), "USD"),
    **dict.fromkeys(("pesos", "peso", "mxn"), "MXN"),
}


def _currency_asked(reading: Reading) -> str | None:
    """ "¿cuánto es en dólares?": the currency the price is asked in, if any."""
    return next((_CURRENCY_WORDS[w] for w in reading.words if w in _CURRENCY_WORDS), None)


# A question about what the catalogue holds, not about one course.
_OF_CATALOGUE = ("cursos", "courses", "tienen", "tienes", "hay", "do you have", "any", "algun", "alguno", "algo")
# "Si me pierdo una clase, ¿queda grabada?": a format question the bonuses answer (live says nothing about it).
_RECORDINGS = re.compile(
    r"quedan? grabad|se graban|(?:hay|tienen|dan|habra) (?:acceso a )?(?:las )?grabaciones|"
    r"(?:is|are|will) (?:it|they|the (?:classes|sessions|class|session)) (?:be )?recorded|"
    r"recordings? (?:available|of the)|watch (?:it|them|the (?:class|classes|session|sessions)) later|"
    r"ver (?:la|las) (?:clase|clases|sesion|sesiones) (?:despues|luego|mas tarde)"
)
# "¿Qué diferencia hay entre el de introducción y el de prompts?": the courses named, side by side.
_COMPARE = _words(
    "diferencia diferencias difference differences compare comparar compara comparacion comparison vs versus"
)
_COMPARE_PHRASES = ("cual es mejor", "cual me conviene mas", "which is better", "which one is better", "o el de")
_NAMED = 3  # a course's name (or its main words) matched, not a word in its description
MAX_COMPARED = 3
# "¿Cuál es el siguiente nivel después de ese?": the courses a level up from the one discussed.
_NEXT_LEVEL = re.compile(
    r"siguiente nivel|proximo nivel|nivel siguiente|nivel mas alto|que sigue despues|despues de (?:ese|este)|"
    r"next level|what comes next|after (?:this|that) (?:one|course)|more advanced"
)
# "Can we continue in English?": the customer's language for this chat.
_IN_ENGLISH_PLEASE = re.compile(
    r" (?:continue|talk|speak|write|chat|answer|reply|go on)(?: to me| with me)? in english |"
    r" (?:do|can) you (?:speak|write|talk) english | (?:hablas|habla|hablan) ingles | en ingles por favor "
)
# "¿Por dónde empiezo?", "where do I start?": which course to take first.
_WHERE_TO_START = re.compile(
    r" (?:por|de) donde (?:empiezo|empezar|empiezo yo|comienzo|comenzar|inicio|arranco)"
    r"| con (?:cual|que curso) (?:empiezo|empezar|comienzo|comenzar|inicio)"
    r"| where (?:do|should|can|would) i (?:start|begin)| which (?:one|course) should i (?:start|begin) with"
    r"| where to (?:start|begin) "
)
# The words each no-data question is made of, left out when looking for the course it is about.
_NO_DATA_WORDS = {topic: frozenset(re.findall(r"[a-z]{3,}", pattern.pattern)) for topic, pattern in _NO_DATA}
_RECOMMEND = _words(
    "recomiendas recomienda recomiendan recomendarias recomendacion recomendaciones sugieres sugiere sugerencia "
    "conviene convendria recommend recommendation suggest suggestion"
)
_RECOMMEND_PHRASES = (
    " cual me sirve ",
    " cual es mejor ",
    " cual es el mejor ",
    " por donde empiezo ",
    " por donde empezar ",
    " para empezar ",
    " que me sirve ",
    " which one should ",
    " best for me ",
    " where do i start ",
    " me dedico ",
    " trabajo en ",
    " trabajo como ",
    " trabajo de ",
    " i am a ",
    " im a ",
    " i work ",
    " tengo un negocio ",
    " tengo una ",
    " soy ",
    " que curso tomo ",
    " cual tomo ",
    " cual me ",
    " trabajo con ",
    " aprender ia ",
    " i have a ",
    " i m a ",
    " i run a ",
    " i own a ",
    " estudio ",
    " estudie ",
    " me dedico a ",
    " en que me puede ayudar ",
    " me puede ayudar ",
)
# Context rather than a question: these ask for a recommendation only when no clear topic is named
# ("¿qué tienen para mi negocio?"), not in "quiero automatizar las cotizaciones de mi negocio".
_CONTEXT_PHRASES = (
    " mi negocio ",
    " mi empresa ",
    " para empresas ",
    " para mi negocio ",
    " para negocios ",
    " para mi trabajo ",
)
# A profile or goal → the catalogue words that suit it (ranked like any topic), and a level.
_PROFILES: tuple[tuple[tuple[str, ...], tuple[str, ...], str | None], ...] = (
    (
        (
            " no se nada ",
            " desde cero ",
            " soy nuevo ",
            " soy nueva ",
            " sin experiencia ",
            " no tengo experiencia ",
            " no se programar ",
            " no programo ",
            " novato ",
            " novata ",
            " nunca he ",
            " from scratch ",
            " no experience ",
            " no soy tecnico ",
            " no soy tecnica ",
            " soy principiante ",
            " i am a beginner ",
            " im a beginner ",
        ),
        (),
        "principiante",
    ),
    (
        (
            " disenador ",
            " disenadora ",
            " diseno ",
            " grafico ",
            " grafica ",
            " creativo ",
            " creativa ",
            " ilustrador ",
            " ilustradora ",
            " fotografo ",
            " fotografa ",
            " designer ",
            " design ",
        ),
        ("imagenes", "generativa", "contenido", "video", "canva"),
        None,
    ),
    (
        (
            " marketing ",
            " mercadologo ",
            " mercadologa ",
            " community manager ",
            " publicista ",
            " publicidad ",
            " redes sociales ",
            " social media ",
            " instagram ",
            " tiktok ",
            " creador de contenido ",
            " creadora de contenido ",
            " influencer ",
            " marketer ",
        ),
        ("marketing", "campanas", "ventas", "redes", "sociales"),
        None,
    ),
    (
        (" ventas ", " vendedor ", " vendedora ", " vendo ", " ejecutivo de ventas ", " comercial ", " sales "),
        ("ventas", "prospeccion", "seguimiento", "plantillas"),
        None,
    ),
    (
        (
            " negocio ",
            " negocios ",
            " emprendedor ",
            " emprendedora ",
            " emprendo ",
            " pyme ",
            " pymes ",
            " empresa ",
            " empresario ",
            " empresaria ",
            " tienda ",
            " dueno ",
            " duena ",
            " comercio ",
            " restaurante ",
            " restaurant ",
            " abarrotes ",
            " papeleria ",
            " despacho ",
            " business ",
            " store ",
            " shop ",
            " entrepreneur ",
            " gerente ",
            " manager ",
            " empresas ",
        ),
        ("pymes", "negocio", "whatsapp", "cotizaciones", "marketing", "campanas"),
        None,
    ),
    (
        (
            " programador ",
            " programadora ",
            " desarrollador ",
            " desarrolladora ",
            " developer ",
            " dev ",
            " ingeniero de software ",
            " ingeniera de software ",
            " software ",
            " backend ",
            " frontend ",
            " full stack ",
            " engineer ",
            " programo ",
            " sistemas ",
            " ingeniero en computacion ",
            " ingeniera en computacion ",
            " informatica ",
            " ti ",
        ),
        ("agentes", "llms", "api", "produccion", "mlops", "despliegue"),
        None,
    ),
    (
        (
            " analista ",
            " contador ",
            " contadora ",
            " contabilidad ",
            " finanzas ",
            " financiero ",
            " financiera ",
            " economista ",
            " actuario ",
            " actuaria ",
            " reportes ",
            " analyst ",
            " accountant ",
            " finance ",
        ),
        ("datos", "analisis", "visualiza"),
        None,
    ),
    (
        (
            " cambiar de carrera ",
            " cambio de carrera ",
            " cambiar de trabajo ",
            " trabajar en ia ",
            " dedicarme a la ia ",
            " career ",
            " conseguir trabajo ",
            " nuevo empleo ",
            " trabajar de ",
            " trabajar como ",
        ),
        ("machine", "learning", "datos", "entrevista", "analisis"),
        None,
    ),
    (
        (
            " docente ",
            " maestro ",
            " maestra ",
            " profesor ",
            " profesora ",
            " educacion ",
            " estudiante ",
            " universitario ",
            " universitaria ",
            " alumno ",
            " alumna ",
            " teacher ",
            " student ",
        ),
        ("prompt", "educacion", "introduccion"),
        None,
    ),
    (
        (
            " abogado ",
            " abogada ",
            " legal ",
            " derecho ",
            " juridico ",
            " compliance ",
            " recursos humanos ",
            " rh ",
            " gobierno ",
            " lawyer ",
            " human resources ",
            " hr ",
        ),
        ("etica", "regulacion", "gobernanza", "politicas"),
        None,
    ),
    (
        (
            " cientifico de datos ",
            " cientifica de datos ",
            " data scientist ",
            " ml engineer ",
            " ingeniero de machine learning ",
            " ingeniera de machine learning ",
        ),
        ("mlops", "despliegue", "produccion", "transformers", "deep"),
        None,
    ),
    (
        (" medico ", " medica ", " doctor ", " doctora ", " enfermera ", " enfermero ", " salud ", " nurse "),
        ("introduccion", "salud"),
        None,
    ),
)
# Fields a career change aims at: ranked by the career profile, not as a topic of their own.
_CAREER_FIELDS = (" ciencia de datos ", " data science ", " ciencias de datos ", " analisis de datos ")
_MORE_PHRASES = (
    " ver mas ",
    " mas opciones ",
    " otros ",
    " otras ",
    " cuales mas ",
    " que otros ",
    " que otras ",
    " siguiente ",
    " siguientes ",
    " show more ",
    " others ",
    " mas cursos ",
    " el resto ",
    " los demas ",
    " otro curso ",
    " otra opcion ",
    " other courses ",
    " see more ",
    " ver todos ",
    " todos los cursos ",
    " ver otros ",
    " los demas ",
    " las demas ",
    " aparte de esos ",
)
_MORE_ALONE = frozenset({"mas", "more", "otro", "otra", "otros", "otras", "siguiente", "algo mas", "y mas", "ver mas"})
# Said around "más" without changing it: "¿hay más?", "¿tienen más?", "any more?".
_MORE_FILLER = _words("y hay tienen tiene que algo any some are there is mas more otros otras favor")
_CATALOGUE = _words(
    "cursos curso catalogo oferta ofrecen opciones programas informacion lista courses course catalog catalogue "
    "ofertas talleres diplomados"
)
_CATALOGUE_PHRASES = (" que tienen ", " que hay ", " what do you offer ", " what do you have ", " que manejan ")
_HELP = _words("ayuda ayudame menu help comandos")
_HELP_PHRASES = (
    " que puedes hacer ",
    " que haces ",
    " como funciona ",
    " what can you do ",
    " como te uso ",
    " que puedo preguntar ",
    " que te puedo preguntar ",
    " que puedo preguntarte ",
    " en que me puedes ayudar ",
    " que sabes hacer ",
    " what can i ask ",
)
_GREETING = _words("hola buenas buenos buen dia dias tardes noches saludos hey hi hello holi")
_GREETING_PHRASES = (" que tal ", " que onda ", " good morning ", " good afternoon ", " good evening ")
_THANKS = _words("gracias thanks thank agradezco agradecida agradecido")
# "Gracias por la info": thanks, not a request for information.
_THANKS_FOR = re.compile(
    r" (?:gracias|thanks|thank you) (?:por|for) (?:la|tu|su|el|the|your)? ?"
    r"(?:informacion|ayuda|atencion|help|tiempo|respuesta) "
)
_ACK = _words(
    "ok okay vale va sale dale listo perfecto genial excelente entendido claro great cool nice good bien super "
    "de acuerdo muchas mil gracias thanks thank you muy amable bueno si yes ah aja ahh oh entiendo enterado enterada"
)
# Said with a question word ("¿te aviso…?") these still close the conversation, so they outrank "info".
_CLOSING_PHRASES = (
    " lo pienso ",
    " lo checo ",
    " lo reviso ",
    " te aviso ",
    " lo platico ",
    " lo consulto ",
    " te digo ",
    " no me interesa ",
    " no gracias ",
)
_GOODBYE_PHRASES = (
    " adios ",
    " bye ",
    " chao ",
    " chau ",
    " hasta luego ",
    " hasta pronto ",
    " nos vemos ",
    " lo pienso ",
    " lo voy a pensar ",
    " lo platico ",
    " te aviso ",
    " luego te escribo ",
    " te escribo ",
    " no me interesa ",
    " no gracias ",
    " goodbye ",
    " see you ",
    " talk later ",
    " not interested ",
    " hasta manana ",
)
_ORDINALS = {
    "primero": 0,
    "primer": 0,
    "primera": 0,
    "1ro": 0,
    "1o": 0,
    "first": 0,
    "segundo": 1,
    "segunda": 1,
    "2do": 1,
    "2o": 1,
    "second": 1,
    "tercero": 2,
    "tercer": 2,
    "tercera": 2,
    "3ro": 2,
    "3o": 2,
    "third": 2,
    "cuarto": 3,
    "cuarta": 3,
    "4to": 3,
    "4o": 3,
    "fourth": 3,
    "ultimo": -1,
    "ultima": -1,
    "last": -1,
}
_MIDDLE = (" en medio ", " enmedio ", " de en medio ", " middle ", " del medio ")
_DIGIT_REF = re.compile(
    r"^ (?:(?:el|la|opcion|option|numero|number|#|curso|course) )*([1-4]) |"
    r"(?:opcion|option|numero|number|el|la) ([1-4]) "
)
_DEMONSTRATIVES = _words("ese esa este esta eso esto dicho that this it")
_LEVEL_WORDS = {
    "principiante": "principiante",
    "principiantes": "principiante",
    "basico": "principiante",
    "basicos": "principiante",
    "basica": "principiante",
    "inicial": "principiante",
    "iniciales": "principiante",
    "beginner": "principiante",
    "beginners": "principiante",
    "introductorio": "principiante",
    "novatos": "principiante",
    "intermedio": "intermedio",
    "intermedios": "intermedio",
    "intermedia": "intermedio",
    "intermediate": "intermedio",
    "avanzado": "avanzado",
    "avanzados": "avanzado",
    "avanzada": "avanzado",
    "avanzadas": "avanzado",
    "experto": "avanzado",
    "expertos": "avanzado",
    "advanced": "avanzado",
    "expert": "avanzado",
}
_KEYWORDS = (
    _PRICE
    | _CHEAP
    | _SYLLABUS
    | _BONUS
    | _CERTIFICATE
    | _ENROL
    | _RECOMMEND
    | _CATALOGUE
    | _HELP
    | _GREETING
    | _THANKS
    | _ACK
    | frozenset(_MODALITY_WORDS)
    | frozenset(_ORDINALS)
    | frozenset(_LEVEL_WORDS)
    | _DEMONSTRATIVES
    | _words("caro caros cara costoso mxn usd k mil menos hasta maximo presupuesto ritmo mas baja alta stop curricular")
)


@dataclass(frozen=True)
class _Topics:
    words: tuple[str, ...]  # words that name something in the catalogue (spelling corrected, synonyms added)
    unmatched: tuple[str, ...] = ()  # content words the catalogue does not hold
    ranked: tuple[tuple[Course, int], ...] = field(default=())


def classify(reading: Reading, catalogue: Catalogue, memory: Memory = Memory()) -> Intent:
    """Return what one message asks for, resolving references against the memory."""
    lang = reading.lang
    if not reading.words:
        return Intent("unclear", lang=lang)
    consent = consent_keyword(reading)
    if consent:
        return Intent("consent", lang=lang, topic=consent)
    level = _level(reading)
    if _CANNOT_CODE.search(reading.text):  # programming is what they lack, not what they ask for
        reading = replace(reading, words=tuple(w for w in reading.words if w not in _CODING_WORDS))
        level = level or "principiante"
    topics = _topics(reading, catalogue, level)
    reason = handoff_reason(" ".join(reading.words))
    if reason:
        course, _ = _resolve(reading, topics, level, memory, use_memory=False)
        return Intent("handoff", lang=lang, topic=reason, course=course)

    def about(kind: str, *, use_memory: bool = True, **extra) -> Intent:
        course, courses = _resolve(reading, topics, level, memory, use_memory=use_memory)
        return Intent(kind, lang=lang, course=course, courses=courses, level=level, unmatched=topics.unmatched, **extra)

    if _SELF_PACED.search(reading.text):
        return about("modality", modality="a tu ritmo")
    if _IN_ENGLISH_PLEASE.search(reading.text):  # the conversation in English, not the courses' language
        return Intent("help", lang="en")
    if _RECORDINGS.search(reading.text):
        return about("modality", topic="recordings")
    named = [c for c, score in topics.ranked if score >= _NAMED]
    if _NEXT_LEVEL.search(reading.text):  # "el siguiente nivel después de intro", or of the course discussed
        base = named[0] if named else memory.last_course
        if base is not None:
            return _next_level(base, catalogue, lang)
    if topics.unmatched and not named and (retired := catalogue.retired_named(topics.unmatched)):
        return Intent("retired", lang=lang, topic=retired)  # "¿y el de dialogflow?": say it is gone
    if len(named) >= 2 and (set(reading.words) & _COMPARE or reading.has(*_COMPARE_PHRASES)):
        return Intent("compare", lang=lang, courses=tuple(named[:MAX_COMPARED]))
    if _WHERE_TO_START.search(reading.text):  # advice, not a start date
        return _recommend(reading, topics, level, catalogue, _profile(reading, catalogue), lang)
    for topic, pattern in _NO_DATA:
        if pattern.search(reading.text):
            # The question's own words ("transferencia", "oxxo") name no course ("transferencia de aprendizaje").
            plain = replace(reading, words=tuple(w for w in reading.words if w not in _NO_DATA_WORDS[topic]))
            course, courses = _resolve(plain, _topics(plain, catalogue, level), level, memory)
            return Intent("no_data", lang=lang, course=course, courses=courses, level=level, topic=topic)
    asks_included = bool(set(reading.words) & (_BONUS | _INCLUDED))  # "¿la cámara viene incluida si lo tomo…?"
    if (
        reading.words[0] != "no"
        and not asks_included
        and (set(reading.words) & _ENROL or reading.has(*(p.strip() for p in _ENROL_PHRASES)))
    ):
        return about("enrol")
    budget = _budget(reading, catalogue)
    if budget:
        amount, currency = budget
        return _price_filter("budget", reading, topics, level, catalogue, amount=amount, currency=currency)
    of_those = memory.last_list if reading.has(*(p.strip() for p in _OF_THOSE)) else ()
    if set(reading.words) & _CHEAP or reading.has(*(p.strip() for p in _CHEAP_PHRASES)):
        return _price_filter("cheapest", reading, topics, level, catalogue, within=of_those)
    if reading.has(*(p.strip() for p in _PRICEY_PHRASES)):
        return _price_filter("priciest", reading, topics, level, catalogue, within=of_those)
    words = set(reading.words)
    asks_price = bool(words & _PRICE or _PRICE_PHRASES.search(reading.text))
    modality = _modality(reading)
    # "¿Cuánto cuesta, cuánto dura y es en línea?": one course's card says it all ("los cursos en línea": a list).
    if _facets_asked(reading, asks_price=asks_price, modality=modality) >= 2 and not reading.has("cursos", "courses"):
        card = about("course")
        if card.course is not None:
            return card
    if words & _CERTIFICATE:
        return about("bonus", topic="certificate")
    if words & _SYLLABUS_NOUNS:
        return about("syllabus")
    if words & (_BONUS | _INCLUDED):
        return about("bonus")
    if words & _SYLLABUS or reading.has(*(p.strip() for p in _SYLLABUS_PHRASES)):
        return about("syllabus")
    profile = _profile(reading, catalogue)
    asks_recommendation = (
        bool(words & _RECOMMEND)
        or reading.has(*(p.strip() for p in _RECOMMEND_PHRASES))
        or (
            reading.has(*(p.strip() for p in _CONTEXT_PHRASES)) and not (topics.ranked and topics.ranked[0][1] >= SHORT)
        )
    )
    if profile and profile[2] and not asks_price:
        return _recommend(reading, topics, level, catalogue, profile, lang)  # "tengo una tienda en línea"
    if modality is not None and not asks_price:
        # "¿tienen cursos presenciales?" asks the catalogue, not about the course last discussed.
        of_catalogue = bool(modality) and (
            reading.has(*_OF_CATALOGUE) or level is not None
        )  # "¿y presencial para principiantes?"
        return about("modality", modality=modality or None, use_memory=not of_catalogue)
    if asks_price:  # "¿cuánto cuestan los cursos en línea?": the modality narrows the prices
        price = about("price", currency=_currency_asked(reading))
        if price.course is None and not price.courses:  # every price: the listing "ver más" continues
            scope = in_scope(catalogue.courses, level, modality)
            price = replace(
                price, courses=tuple(catalogue.interleaved_by_price(scope)), topic="overview", modality=modality or None
            )
        return price
    describes_self = reading.words[0] in {"soy", "im", "me"} and reading.has("soy", "im", "me dedico")
    if asks_recommendation and (
        profile
        or words & _RECOMMEND
        or topics.ranked
        or describes_self  # "soy periodista": a profile we have no words for still gets the starters
        or reading.has("aprender ia", "para mi trabajo")
    ):
        return _recommend(reading, topics, level, catalogue, profile, lang)
    if (
        reading.has(*(p.strip() for p in _MORE_PHRASES))
        or " ".join(reading.words) in _MORE_ALONE
        or (words & {"mas", "more"} and words <= _MORE_FILLER)
    ):
        return Intent("more", lang=lang, listing=memory.listing, exclude=memory.shown)
    inherited = _inherited(reading, topics, memory)
    if inherited:
        return about(inherited.kind, topic=inherited.topic, modality=inherited.modality)
    if topics.ranked:
        return _search(reading, topics, level, catalogue, memory)
    if _points_back(reading, memory):
        course, courses = _resolve(reading, topics, level, memory)
        if course or courses:
            return Intent("course", lang=lang, course=course, courses=courses)
    if level:
        return Intent(
            "search", lang=lang, level=level, courses=tuple(c for c in catalogue.by_level() if c.level == level)
        )
    if reading.has(*(p.strip() for p in _CLOSING_PHRASES)) and not topics.ranked:
        return Intent("goodbye", lang=lang)
    if _THANKS_FOR.search(reading.text):
        return Intent("thanks", lang=lang)
    if words & _CATALOGUE or reading.has(*(p.strip() for p in _CATALOGUE_PHRASES)):
        return Intent("catalogue", lang=lang, courses=tuple(catalogue.by_level()), unmatched=topics.unmatched)
    if words & _HELP or reading.has(*(p.strip() for p in _HELP_PHRASES)):
        return Intent("help", lang=lang)
    if reading.has(*(p.strip() for p in _GOODBYE_PHRASES)):
        return Intent("goodbye", lang=lang)
    if words & _GREETING or reading.has(*(p.strip() for p in _GREETING_PHRASES)):
        return Intent("greeting", lang=lang)
    if words & _THANKS or (words <= _ACK):
        return Intent("thanks", lang=lang)
    return Intent("unclear", lang=lang, unmatched=topics.unmatched)


def detect(texts: Sequence[str], catalogue: Catalogue, memory: Memory = Memory()) -> Intent:
    """Return the most recent specific request of a burst of messages.

    Greetings, thanks and unclear messages only count when nothing else was asked: "hola"
    followed by a question, or a question followed by "gracias", is answered as the question.
    Earlier messages of the burst feed the memory ("me interesa visión", "¿cuánto cuesta?").
    """
    weak: Intent | None = None
    specific: Intent | None = None
    lang: str | None = None
    for text in texts:
        reading = read(text)
        intent = classify(reading, catalogue, memory)
        memory = remember_request(memory, intent)
        if _speaks(reading):
            lang = reading.lang
        if intent.kind not in WEAK:
            specific = intent
        elif weak is None or intent.kind != "unclear" or weak.kind == "unclear":
            weak = intent
    chosen = specific or weak or Intent("unclear")
    # "ok", "👍", "gracias" tell no language: the conversation's goes on.
    return replace(chosen, lang=lang or memory.lang or chosen.lang)


def _tells_language(reading: Reading) -> bool:
    """Whether a message from the history shows the user's language (not a lone "ok", nor "STOP")."""
    return _speaks(reading) and not consent_keyword(reading)


def _speaks(reading: Reading) -> bool:
    """Whether the message has enough words to tell its language (a lone "ok" or "python" does not)."""
    return len(reading.words) >= 2 or reading.lang == "en"


def remember_request(memory: Memory, intent: Intent) -> Memory:
    """The memory after the user asked for `intent` (before seeing the reply)."""
    updates: dict = {}
    if intent.kind in _INHERITED | {"search", "course", "enrol", "cheapest", "priciest", "budget", "recommend"}:
        updates["last_intent"] = intent
    if intent.course is not None:
        updates["last_course"] = intent.course
    elif intent.kind in LISTS and intent.courses:
        updates.update(listing=intent, shown=frozenset(), last_list=intent.courses[:MAX_LISTED], last_course=None)
    return replace(memory, **updates)


def remember_reply(memory: Memory, text: str, catalogue: Catalogue) -> Memory:
    """The memory after the user read `text` (ours or the model's): the courses it named."""
    named = catalogue.mentioned_in(text)
    updates: dict = {"shown": memory.shown | {c.id for c in named}}
    if len(named) >= 2:
        updates.update(last_list=tuple(named), last_course=None)
    elif named:
        updates["last_course"] = named[0]
    if any(marker in text for marker in MENU_MARKERS):
        updates["menu_shown"] = True
    return replace(memory, **updates)


def language_of_transcript(transcript: Sequence[tuple[str, str]]) -> str | None:
    """The language the user last wrote in ("es" or "en"), when one of their messages could tell.

    Consent keywords do not tell: Spanish speakers write "STOP" too.
    """
    for role, text in reversed(transcript):
        if role == "user" and _tells_language(reading := read(text)):
            return reading.lang
    return None


def memory_from_transcript(transcript: Sequence[tuple[str, str]], catalogue: Catalogue) -> Memory:
    """Replay a conversation (role, text), oldest first, into the memory its next message meets."""
    memory = Memory()
    for role, text in transcript:
        if role == "user":
            reading = read(text)
            memory = remember_request(memory, classify(reading, catalogue, memory))
            if _tells_language(reading):
                memory = replace(memory, lang=reading.lang)
        else:
            memory = remember_reply(memory, text, catalogue)
    return memory


# --- Helpers --------------------------------------------------------------------------------


def _level(reading: Reading) -> str | None:
    for word in reading.words:
        if word in _LEVEL_WORDS:
            return _LEVEL_WORDS[word]
    return None


def _topics(reading: Reading, catalogue: Catalogue, level: str | None) -> _Topics:
    words: list[str] = []
    unmatched: list[str] = []
    for position, word in enumerate(reading.words):
        if word in _KEYWORDS or word in _STOP or word.isdigit():
            continue
        if len(word) <= 2 and word not in _SHORT_TOPICS:
            continue
        if (
            position >= 2
            and reading.words[position - 1] in {"desde", "from", "en", "por"}
            and reading.words[position - 2] in _FROM
        ):
            continue  # "saludos desde Guadalajara": where the user is, not a topic
        expanded = _SYNONYMS.get(word, (word,))
        if not catalogue.knows(word) and word not in _SYNONYMS:
            expanded = catalogue.split(word) or expanded  # "deeplearning"
        for candidate in expanded:
            if catalogue.knows(candidate):
                words.append(candidate)
                continue
            corrected = catalogue.correct(candidate)
            if corrected and corrected not in _KEYWORDS and corrected not in _STOP:
                words.append(corrected)
            elif len(candidate) > 3 and not _is_noise(candidate):
                unmatched.append(candidate)
    words = list(dict.fromkeys(words))[:8]
    ranked = tuple(catalogue.rank(words, text=" ".join(reading.words), level=level)) if words else ()
    return _Topics(words=tuple(words), unmatched=tuple(dict.fromkeys(unmatched)), ranked=ranked)


_FROM = _words("saludos saludo escribo escribe escribiendo hablo greetings writing anuncio publicacion vi")


def _is_noise(word: str) -> bool:
    """Words with no letters worth reporting back ("jajaja", "mmm", "asdf")."""
    return len(set(word)) <= 2 or word.startswith(("jaja", "jeje", "haha", "jiji"))


def _pool(topics: _Topics, level: str | None) -> tuple[list[tuple[Course, int]], bool]:
    """The candidates to answer from: those at the level asked for when any is; and whether none was."""
    ranked = list(topics.ranked)
    if level:
        at_level = [(c, s) for c, s in ranked if c.level == level]
        if at_level:
            return at_level, False
        return ranked, bool(ranked)
    return ranked, False


def _winner(pool: Sequence[tuple[Course, int]], topics: Sequence[str] = ()) -> Course | None:
    """The one course a message clearly means: alone, scoring at least twice the next one, or the
    only one whose name holds every topic word ("machine learning", not "Deep Learning")."""
    if len(pool) == 1 or (pool and pool[0][1] >= 2 * pool[1][1]):
        return pool[0][0]
    if len(topics) >= 2:
        named = [c for c, _ in pool if all(c.index.get(stem(w)) == NAME for w in topics)]
        if len(named) == 1:
            return named[0]
    return None


def _ordinal(reading: Reading, memory: Memory) -> Course | None:
    if not memory.last_list:
        return None
    index = next((_ORDINALS[w] for w in reading.words if w in _ORDINALS), None)
    if index is None and len(memory.last_list) % 2 and reading.has(*(p.strip() for p in _MIDDLE)):
        index = len(memory.last_list) // 2  # "el de en medio" of three
    if index is None:
        match = _DIGIT_REF.search(reading.text)
        if match and not _BUDGET.search(reading.raw):
            index = int(match.group(1) or match.group(2)) - 1
    if index is None or index >= len(memory.last_list):
        return None
    return memory.last_list[index]


def _resolve(
    reading: Reading, topics: _Topics, level: str | None, memory: Memory, *, use_memory: bool = True
) -> tuple[Course | None, tuple[Course, ...]]:
    """The course a course-specific question is about: named, ordinal, or the one last discussed."""
    if use_memory:
        ordinal = _ordinal(reading, memory)
        if ordinal is not None:
            return ordinal, ()
    pool, _ = _pool(topics, level)
    incidental = bool(pool) and pool[0][1] < SHORT  # "al final…": a word only a session or bonus holds
    if pool and not incidental:
        return _winner(pool, topics.words), tuple(c for c, _ in pool)
    if not use_memory or _asks_unknown_topic(reading, topics):
        return None, ()
    if memory.last_course is not None:
        return memory.last_course, ()
    return None, memory.last_list


def _asks_unknown_topic(reading: Reading, topics: _Topics) -> bool:
    """ "¿cuánto cuesta el de cocina?": a topic the catalogue lacks, not a follow-up on the last course."""
    words = reading.words
    return any(
        word in topics.unmatched and index and words[index - 1] in {"de", "del", "sobre", "about", "of"}
        for index, word in enumerate(words)
    )


def _points_back(reading: Reading, memory: Memory) -> bool:
    """A message that only points at what was shown: "el segundo", "ese", "más info de ese"."""
    if _ordinal(reading, memory) is not None:
        return True
    words = set(reading.words)
    return bool(words & _DEMONSTRATIVES) and len(reading.words) <= 6


def _inherited(reading: Reading, topics: _Topics, memory: Memory) -> Intent | None:
    """ "¿y el de marketing?" after a price question asks for a price too."""
    previous = memory.last_intent
    if previous is None or previous.kind not in _INHERITED or not reading.words:
        return None
    follows = reading.words[0] in {"y", "and", "tambien", "what", "how"} or reading.has(
        "y el", "y la", "y los", "and the"
    )
    if follows and (topics.ranked or _ordinal(reading, memory) is not None) and len(reading.words) <= 7:
        return previous
    return None


def _modality(reading: Reading) -> str | None:
    """The modality asked about ("" for the question alone), or None when the message is not about it.

    Two that exclude each other ("¿presencial o en línea?", "live or recorded?") ask which one it
    is: "". Nested ones ("online en vivo", "presencial o híbrido") ask for the narrower one, or with
    an "o" for either (the broader one).
    """
    named = [target for phrase, target in _MODALITY_PHRASES.items() if phrase in reading.text]
    if reading.has("en vivo"):
        named.append("en vivo")
    if reading.has("a tu ritmo", "a mi ritmo"):
        named.append("a tu ritmo")
    if reading.has("en linea", "a distancia"):
        named.append("online")
    found = [
        _MODALITY_WORDS[word]
        for index, word in enumerate(reading.words)
        if word in _MODALITY_WORDS and not _lives_somewhere(reading.words, index)
    ]
    if not named and not found:
        return None
    unique = list(dict.fromkeys(m for m in (*named, *found) if m))
    if len(unique) <= 1:
        return unique[0] if unique else ""
    targets = {m: set(MODALITY_TARGETS[m]) for m in unique}
    by_breadth = sorted(unique, key=lambda m: len(targets[m]))
    if all(targets[a] <= targets[b] for a, b in pairwise(by_breadth)):
        return by_breadth[-1] if reading.has("o", "or") else by_breadth[0]
    return ""


# "no sé nada de programación", "no coding experience": a beginner, whose missing skill is not a topic.
_CANNOT_CODE = re.compile(
    r" (?:no (?:se|sabemos|sabe)(?: nada)?(?: de)? (?:programar|programacion|codigo|python)"
    r"|sin (?:saber )?(?:programar|programacion|codigo)|nunca (?:he|hemos) programado|no programo"
    r"|no (?:coding|programming|code)|(?:cant|cannot|dont know how to|never) (?:code|program|coded|programmed)) "
)
_CODING_WORDS = frozenset(
    {"programar", "programacion", "programador", "codigo", "python", "coding", "code", "programming", "program"}
    | {"experiencia", "experience", "programado", "programo", "coded", "programmed"}
)


def _lives_somewhere(words: Sequence[str], index: int) -> bool:
    """ "yo vivo en Monterrey", "I live in Texas": where the customer lives, not a live course ("en vivo")."""
    word = words[index]
    before = words[index - 1] if index else ""
    after = words[index + 1] if index + 1 < len(words) else ""
    if word == "vivo":
        return before != "en"
    return word == "live" and (before in {"i", "we", "they", "you", "to"} or after in {"in", "near", "at"})


def _budget(reading: Reading, catalogue: Catalogue) -> tuple[Decimal, str] | None:
    match = _BUDGET.search(reading.raw)
    if not match:
        return None
    number, thousands, currency_word = match.groups()
    digits = number.rstrip(".,")
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits):
        digits = re.sub(r"[.,]", "", digits)
    try:
        amount = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        return None
    if thousands:
        amount *= 1000
    if amount < 100 and not thousands and not currency_word:  # "hasta 2 cursos", "tengo 25 años": not money
        return None
    currency = None
    if currency_word:
        currency = "USD" if currency_word in {"dolares", "dolar", "dlls", "usd", "us", "dollars"} else "MXN"
    elif reading.has("usd"):
        currency = "USD"
    return amount, currency or catalogue.main_currency


def _price_filter(
    kind: str,
    reading: Reading,
    topics: _Topics,
    level: str | None,
    catalogue: Catalogue,
    *,
    amount: Decimal | None = None,
    currency: str | None = None,
    within: Sequence[Course] = (),
) -> Intent:
    """Cheapest, most expensive or under an amount: always within one currency at a time; `within`
    is the list just shown when the user says "de esos"."""
    pool, _ = _pool(topics, level)
    if within:
        scope = list(within)
    elif pool:
        scope = [c for c, _ in pool]
    else:
        scope = in_scope(catalogue.courses, level, None)
    if kind == "budget":
        within = [c for c in catalogue.by_price(scope) if c.currency == currency and c.price <= (amount or 0)]
        return Intent(kind, lang=reading.lang, courses=tuple(within), amount=amount, currency=currency, level=level)
    ordered = catalogue.by_price(scope)
    if kind == "priciest":
        ordered = sorted(ordered, key=lambda c: (catalogue.currency_rank(c), -c.price))
    return Intent(kind, lang=reading.lang, courses=tuple(ordered), level=level)


def _profile(reading: Reading, catalogue: Catalogue) -> tuple[tuple[str, ...], str | None, bool, frozenset[str]] | None:
    """The catalogue words and level that suit what the user says they are; and whether the words
    that said it are a profile on their own ("diseñadora", "tienda") rather than a topic ("marketing")."""
    text = reading.text
    found_words: list[str] = []
    found_level: str | None = None
    strong = False
    said: set[str] = set()
    for phrases, words, level in _PROFILES:
        hits = [phrase for phrase in phrases if phrase in text]
        if hits:
            found_words.extend(words)
            found_level = found_level or level
            strong = strong or any(not all(catalogue.knows(w) for w in hit.split()) for hit in hits)
            said.update(word for hit in hits for word in hit.split())
    if not found_words and not found_level:
        return None
    if "carrera" in said or "career" in said:  # the field changed to is what the profile's words rank
        said.update(word for phrase in _CAREER_FIELDS if phrase in text for word in phrase.split())
    return tuple(dict.fromkeys(found_words)), found_level, strong, frozenset(said)


def _recommend(
    reading: Reading,
    topics: _Topics,
    level: str | None,
    catalogue: Catalogue,
    profile: tuple[tuple[str, ...], str | None, bool, frozenset[str]] | None,
    lang: str,
) -> Intent:
    """Courses for a profile or goal: the profile's words ranked like a topic, the user's own topics first.

    Each ranking is scaled to its best course, so a profile with many words ("gerente": business,
    WhatsApp, quotes…) does not drown the one thing the user asked for ("una política de uso de IA").
    The words that stated the profile ("recursos humanos") are not counted again as a topic.
    """
    level = level or (profile[1] if profile else None)
    said = profile[3] if profile else frozenset()
    own_words = [w for w in topics.words if w not in said]
    own = dict(catalogue.rank(own_words, level=level)) if own_words else {}
    if profile:  # beside a profile, a word only a long description holds ("consultorio") is incidental
        own = {c: score for c, score in own.items() if score >= SHORT}
    suits = dict(catalogue.rank(profile[0], level=level)) if profile and profile[0] else {}
    own_top, suits_top = max(own.values(), default=1), max(suits.values(), default=1)
    scores = {c: 2 * own.get(c, 0) / own_top + suits.get(c, 0) / suits_top for c in {*own, *suits}}
    ranked = sorted(
        scores.items(),
        key=lambda cs: (-cs[1], cs[0].level != level, catalogue.currency_rank(cs[0]), cs[0].price, cs[0].name),
    )
    if ranked:
        top = ranked[0][1]
        chosen = [c for c, s in ranked if s * 2 >= top]
        if level:  # a stated level comes first: a beginner is not sent to advanced courses for a word they used
            chosen = [c for c in chosen if c.level == level] or [c for c, _ in ranked if c.level == level]
        if chosen:
            topic = "profile" if profile else None
            return Intent("recommend", lang=lang, courses=tuple(chosen), level=level, topic=topic)
    scope = [c for c in catalogue.by_level() if c.level == (level or "principiante")]
    return Intent("recommend", lang=lang, courses=tuple(scope), level=level or "principiante", topic="starter")


_DURATION = _words("dura duran duracion horas hours semanas weeks sesiones sessions")
_DURATION_PHRASES = ("cuanto dura", "how long", "cuantas horas", "cuantas sesiones", "how many hours")


def _facets_asked(reading: Reading, *, asks_price: bool, modality: str | None) -> int:
    """How many of a course's facts one message asks for: price, length, format, what it includes."""
    words = set(reading.words)
    asks_length = bool(words & _DURATION or reading.has(*_DURATION_PHRASES))
    return sum((asks_price, asks_length, modality is not None, bool(words & (_BONUS | _CERTIFICATE))))


def _next_level(course: Course, catalogue: Catalogue, lang: str) -> Intent:
    """The courses one level above `course`, those closest to its subject first; itself when it is the top level."""
    position = LEVELS.index(course.level) if course.level in LEVELS else len(LEVELS) - 1
    if position + 1 >= len(LEVELS):
        return Intent("recommend", lang=lang, courses=(course,), level=course.level, topic="top_level")
    level = LEVELS[position + 1]
    ranked = catalogue.rank(words_of(f"{course.name} {course.detail['short_description']}"))
    closeness = {c.id: place for place, (c, _) in enumerate(ranked)}
    at_level = [c for c in catalogue.by_level() if c.level == level]
    ordered = sorted(at_level, key=lambda c: closeness.get(c.id, len(closeness)))
    return Intent("recommend", lang=lang, courses=tuple(ordered), level=level, topic="next_level")


def _search(reading: Reading, topics: _Topics, level: str | None, catalogue: Catalogue, memory: Memory) -> Intent:
    pool, level_missing = _pool(topics, level)
    winner = _winner(pool, topics.words)
    ordered = tuple(c for c, _ in pool)
    if winner is not None:
        related = tuple(c for c, _ in topics.ranked if c is not winner)
        return Intent(
            "search",
            lang=reading.lang,
            course=winner,
            courses=(winner, *related),
            level=level,
            level_missing=level_missing,
        )
    return Intent("search", lang=reading.lang, courses=ordered, level=level, level_missing=level_missing)
