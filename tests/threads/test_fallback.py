"""The rule-based responder over the real catalogue (the demo fixture, or courses made here), one burst at a time.

Conversations with memory, English, handoff phrases and the evaluation set are in
`test_fallback_conversation.py`.
"""

from decimal import Decimal

import pytest
from django.core.management import call_command

from courses.models import Course, CourseBonus, Level, Modality
from threads.fallback import MAX_REPLY_CHARS, detect_intent, fallback_reply

pytestmark = pytest.mark.django_db

APOLOGY = "Ahora mismo tengo problemas para consultar a mi asistente, pero te ayudo con el catálogo:"
MENU_ITEMS = (
    'escribe "cursos"',
    '"python", "marketing", "principiante"',
    '"precios" o "el más barato"',
    'escribe "asesor"',
)


@pytest.fixture
def demo():
    call_command("loaddata", "demo_courses", verbosity=0)


def make_course(name, *, level=Level.BEGINNER, price="1000.00", active=True, description="Descripción.", sessions=4):
    return Course.objects.create(
        name=name,
        short_description=description,
        level=level,
        modality=Modality.ONLINE_LIVE,
        price=Decimal(price),
        duration_hours=sessions * 2,
        sessions_count=sessions,
        active=active,
    )


def reply(*texts, reason=None):
    return fallback_reply(texts=list(texts), reason=reason)


def money(course):
    return f"${course.price:,.0f} {course.currency}"


LEVEL_ORDER = [Level.BEGINNER, Level.INTERMEDIATE, Level.ADVANCED]


def active_by_price():
    return list(Course.objects.filter(active=True).order_by("price", "name"))


def assert_shows_menu(text):
    for item in MENU_ITEMS:
        assert item in text


# --- Intents on the demo catalogue --------------------------------------------------


@pytest.mark.parametrize("text", ["Hola", "hola!!", "Buenas tardes", "BUENOS DÍAS"])
def test_a_greeting_introduces_brenda_and_the_menu(demo, text):
    answer = reply(text)

    assert answer.startswith("¡Hola! Soy Brenda")
    assert_shows_menu(answer)


@pytest.mark.parametrize("text", ["ayuda", "¿Qué puedes hacer?", "menú"])
def test_asking_for_help_shows_the_menu(demo, text):
    answer = reply(text)

    assert "Soy Brenda" in answer
    assert_shows_menu(answer)


@pytest.mark.parametrize("text", ["cursos", "¿Qué cursos tienen?", "Catálogo", "CATALOGO por favor", "¿Qué ofrecen?"])
def test_asking_for_the_catalogue_shows_four_courses_beginners_first_and_offers_more(demo, text):
    courses = sorted(active_by_price(), key=lambda c: (LEVEL_ORDER.index(c.level), c.currency != "MXN", c.price))

    answer = reply(text)

    assert answer.startswith(f"Tenemos {len(courses)} cursos de IA. Estos son algunos:")
    for number, course in enumerate(courses[:4], 1):
        assert f"{number}. *{course.name}* — {course.get_level_display()} — {money(course)}" in answer
    for course in courses[4:]:
        assert course.name not in answer
    assert f'…y {len(courses) - 4} más: escribe "ver más".' in answer
    assert "Dialogflow" not in answer  # the inactive demo course


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("principiante", Level.BEGINNER),
        ("¿Tienen algo BÁSICO?", Level.BEGINNER),
        ("cursos intermedios", Level.INTERMEDIATE),
        ("Nivel avanzado", Level.ADVANCED),
    ],
)
def test_a_level_word_lists_only_that_level(demo, text, level):
    answer = reply(text)

    assert answer.startswith(f"Cursos de nivel *{Level(level).label}*:")
    at_level = [c for c in active_by_price() if c.level == level]
    for course in Course.objects.filter(active=True):
        if course.level != level:
            assert f"*{course.name}*" not in answer, course.name
    assert sum(f"*{c.name}*" in answer for c in at_level) == min(4, len(at_level))


@pytest.mark.parametrize(
    "text",
    [
        "Quiero información del curso de machine learning",
        "MACHINE LEARNING",
        "machine learning aplicado",
        "¿me das detalles de Machine Learning?",
    ],
)
def test_naming_a_course_gives_its_detail(demo, text):
    course = Course.objects.get(name="Machine Learning aplicado")

    answer = reply(text)

    assert answer.startswith(f"*{course.name}*\n{course.short_description}")
    assert f"• Sesiones: {course.sessions_count} ({course.duration_hours} h en total)" in answer
    assert f"• Modalidad: {course.get_modality_display()}" in answer
    assert f"• Precio: *{money(course)}*" in answer
    for bonus in course.bonuses.filter(active=True):
        assert bonus.name in answer
    assert 'escribe "asesor"' in answer


@pytest.mark.parametrize("text", ["vision por computadora", "VISIÓN POR COMPUTADORA", "Visíon Por Computadora"])
def test_course_names_match_without_accents_or_case(demo, text):
    assert reply(text).startswith("*Visión por computadora con Python*\n")


def test_a_plural_topic_finds_the_singular_course(demo):
    assert reply("me interesan los prompts").startswith("*Prompt engineering: comunica mejor con la IA*\n")


def test_a_topic_several_courses_teach_lists_them_name_first_then_descriptions(demo):
    answer = reply("¿tienen algo de Python?")

    assert answer.startswith("Estos cursos tratan de lo que buscas:\n1. *Visión por computadora con Python*")  # name
    assert "2. *Análisis de datos con IA*" in answer  # its short description says Python
    assert "3. *Machine Learning aplicado*" in answer  # its long description does


def test_a_topic_one_course_clearly_holds_gives_its_detail_and_related_ones(demo):
    answer = reply("análisis de datos")

    assert answer.startswith("*Análisis de datos con IA*\n")
    assert "También te puede interesar: " in answer


def test_a_topic_match_outranks_a_level_match(demo):
    answer = reply("python para principiantes")

    assert answer.startswith("No tengo cursos de eso de nivel *Principiante*, pero estos lo tratan:")
    assert "*Visión por computadora con Python*" in answer
    for course in Course.objects.filter(active=True, level=Level.BEGINNER):
        assert course.name not in answer


def test_course_detail_leaves_out_inactive_bonuses(demo):
    course = Course.objects.get(name="Automatización con IA para PyMEs")
    inactive = course.bonuses.filter(active=False).first()
    assert inactive is not None

    answer = reply("automatización para pymes")

    assert answer.startswith(f"*{course.name}*")
    assert inactive.name not in answer


def test_inactive_courses_are_never_offered(demo):
    answer = reply("dialogflow")

    assert "Dialogflow" not in answer
    assert_shows_menu(answer)
    assert "Dialogflow" not in reply("cursos de chatbots")


@pytest.mark.parametrize(
    "text", ["precios", "¿Cuánto cuesta?", "cuanto sale", "¿Qué costo tienen los cursos?", "presios"]
)
def test_asking_for_prices_gives_each_currency_range_and_the_cheapest_grouped_by_currency(demo, text):
    answer = reply(text)

    assert answer.startswith(
        "Nuestros precios: de *$1,490 MXN* a *$12,990 MXN* (9 cursos) y de *$349 USD* a *$499 USD* (2 cursos)."
    )
    mxn, usd = answer.split("*En MXN*\n")[1].split("*En USD*\n")
    assert "1. *Prompt engineering: comunica mejor con la IA* — Principiante — $1,490 MXN" in mxn
    assert "USD" not in mxn.split("\n\n")[0].replace("*En USD*", "")
    assert "MXN" not in usd.split("\n\n")[0]
    assert "*MLOps: modelos de IA en la nube* — Avanzado — $349 USD" in usd


def test_asking_the_price_of_one_course_answers_just_that(demo):
    course = Course.objects.get(name="IA generativa para marketing")

    answer = reply("¿Cuánto cuesta el de MARKETING?")

    assert answer.startswith(f"*{course.name}* cuesta *{money(course)}*")


def test_asking_prices_of_a_level_lists_that_level(demo):
    answer = reply("precio de los cursos avanzados")

    assert answer.startswith("Nuestros precios de nivel *Avanzado*:")
    for course in Course.objects.filter(active=True):
        assert (f"*{course.name}*" in answer) == (course.level == Level.ADVANCED)


def test_prices_of_a_level_in_a_modality_with_no_course_say_so_instead_of_listing_others(demo):
    assert not Course.objects.filter(level=Level.ADVANCED, modality=Modality.HYBRID, active=True).exists()

    answer = reply("¿cuánto cuesta un curso híbrido de nivel avanzado?")

    assert answer.startswith("No tengo cursos híbridos")
    assert not any(f"*{c.name}*" in answer for c in Course.objects.filter(active=True))


@pytest.mark.parametrize(
    "text",
    ["Quiero hablar con un asesor", "¿Me pueden LLAMAR?", "prefiero una persona", "humano por favor", "Asesoría"],
)
def test_asking_for_a_person_gets_a_short_honest_answer_not_a_sales_pitch(demo, text):
    answer = reply(text)

    assert answer.startswith("¡Claro! Una persona del equipo te contactará por este chat")
    assert "$" not in answer and "•" not in answer


def test_a_complaint_is_acknowledged_and_handed_to_a_person(demo):
    assert reply("quiero poner una queja").startswith("Lamento la molestia. Una persona del equipo te contactará")


def test_wanting_to_enrol_in_a_course_sends_to_a_person_for_it(demo):
    answer = reply("quiero inscribirme a Deep Learning")

    assert 'escribe "asesor"' in answer
    assert "*Deep Learning avanzado*" in answer


@pytest.mark.parametrize("text", ["BAJA", "stop", "Baja.", "STOP!!", "cancelar", "No más mensajes"])
def test_opt_out_keywords_are_never_a_topic_or_a_sales_opening(demo, text):
    answer = reply(text)

    assert "$" not in answer and "*" not in answer
    assert "ALTA" in answer or "START" in answer


@pytest.mark.parametrize("text", ["¿cómo me doy de baja del curso?", "hay que cancelar?"])
def test_a_keyword_inside_a_sentence_is_not_an_opt_out(demo, text):
    assert "ALTA" not in reply(text)


@pytest.mark.parametrize("text", ["asdfgh qwerty", "🙂", "?", "el clima de mañana"])
def test_unknown_text_gets_a_helpful_menu(demo, text):
    answer = reply(text)

    assert answer.startswith("No estoy segura de haber entendido")
    assert_shows_menu(answer)


def test_an_unknown_topic_with_a_catalogue_word_says_so_and_lists_the_catalogue(demo):
    answer = reply("¿tienen cursos de cocina?")

    assert answer.startswith("No encontré cursos sobre «cocina». Tenemos 11 cursos de IA; estos son algunos:")


@pytest.mark.parametrize("text", ["¡Muchas gracias!", "ok", "vale", "perfecto, gracias"])
def test_thanks_gets_a_short_friendly_answer(demo, text):
    assert reply(text).startswith("¡Con gusto!")


@pytest.mark.parametrize("text", ["adiós", "lo pienso y te aviso", "no me interesa, gracias"])
def test_goodbye_gets_a_goodbye_not_a_pitch(demo, text):
    answer = reply(text)

    assert answer.startswith("¡Gracias por escribir!")
    assert "*" not in answer


def test_bracketed_notes_added_by_the_service_are_not_read_as_words(demo):
    answer = reply("[El usuario adjuntó 1 archivo(s) (image/jpeg); aún no puedes verlos]")

    assert answer.startswith("No estoy segura de haber entendido")


# --- Bursts ------------------------------------------------------------------------


def test_a_greeting_before_a_question_answers_the_question(demo):
    assert reply("hola", "buenas", "¿qué cursos tienen para principiantes?").startswith(
        "Cursos de nivel *Principiante*"
    )


def test_the_most_recent_intent_wins(demo):
    assert reply("cursos avanzados", "mejor el de marketing").startswith("*IA generativa para marketing*\n")
    assert reply("el de marketing", "mejor muéstrame los avanzados").startswith("Cursos de nivel *Avanzado*")


def test_thanks_after_a_question_still_answers_the_question(demo):
    assert reply("quiero el de machine learning", "gracias").startswith("*Machine Learning aplicado*\n")


def test_a_price_question_uses_the_course_named_earlier_in_the_burst(demo):
    course = Course.objects.get(name="Visión por computadora con Python")

    answer = reply("me interesa visión por computadora", "¿cuánto cuesta?")

    assert answer.startswith(f"*{course.name}* cuesta *{money(course)}*")


def test_an_ordinal_in_a_burst_refers_to_the_list_asked_for_just_before(demo):
    answer = reply("cursos para principiantes", "el temario del segundo")

    assert answer.startswith("*Introducción a la Inteligencia Artificial*: 6 sesiones")


def test_a_burst_of_only_greetings_greets(demo):
    assert reply("hola", "holi").startswith("¡Hola! Soy Brenda")


# --- Reasons -----------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["openai_error", "timeout", "internal_error"])
def test_after_an_ai_failure_the_reply_apologises_then_answers(demo, reason):
    answer = reply("machine learning", reason=reason)

    assert answer.startswith(f"{APOLOGY}\n\n*Machine Learning aplicado*\n")


@pytest.mark.parametrize("text", ["hola", "xyzzy"])
def test_after_an_ai_failure_a_vague_message_gets_the_menu_without_a_second_greeting(demo, text):
    answer = reply(text, reason="openai_error")

    assert answer.startswith(f"{APOLOGY}\n\nPuedo ayudarte con:")
    assert "No estoy segura" not in answer
    assert "¡Hola!" not in answer


@pytest.mark.parametrize("reason", [None, "not_configured"])
def test_the_traditional_flow_does_not_apologise(demo, reason):
    answer = reply("machine learning", reason=reason)

    assert answer.startswith("*Machine Learning aplicado*\n")
    assert APOLOGY not in answer


@pytest.mark.parametrize("texts", [[""], ["hola"], []])
def test_media_gets_a_polite_note_and_the_menu(demo, texts):
    answer = fallback_reply(texts=texts, reason="media")

    assert answer.startswith("Por ahora solo puedo leer mensajes de texto")
    assert_shows_menu(answer)


def test_media_with_a_question_still_answers_it(demo):
    answer = reply("¿cuánto cuesta el de marketing?", reason="media")

    assert answer.startswith("Por ahora solo puedo leer mensajes de texto")
    assert "*IA generativa para marketing* cuesta" in answer


# --- Always something, always short ---------------------------------------------


@pytest.mark.parametrize("reason", [None, "openai_error", "timeout", "not_configured", "media"])
@pytest.mark.parametrize(
    "texts", [[], [""], ["   "], ["\n"], ["a" * 5000], ["🙂🙂"], ["[nota]"], ["cursos"], ["python"]]
)
def test_the_reply_is_never_empty_and_stays_short(demo, texts, reason):
    answer = fallback_reply(texts=texts, reason=reason)

    assert answer.strip()
    assert len(answer) <= MAX_REPLY_CHARS
    assert "**" not in answer  # WhatsApp bold is a single asterisk


def test_an_empty_catalogue_still_answers():
    assert "no tenemos cursos abiertos" in reply("cursos")
    assert "no tenemos cursos abiertos" in reply("avanzado")
    assert "no tenemos cursos abiertos" in reply("precios")
    assert_shows_menu(reply("python"))


def test_a_large_catalogue_with_long_names_is_capped():
    for n in range(12):
        make_course(f"Curso {n:02d} " + "de inteligencia artificial aplicada " * 5, price=str(1000 + n))

    answer = reply("cursos", reason="openai_error")

    assert len(answer) <= MAX_REPLY_CHARS
    assert sum(line.startswith(("1. *", "2. *", "3. *", "4. *")) for line in answer.splitlines()) == 4
    assert '…y 8 más: escribe "ver más".' in answer


def test_a_detail_with_many_long_bonuses_is_capped():
    course = make_course("Python total", description="D" * 500)
    for n in range(10):
        CourseBonus.objects.create(course=course, name=f"Bono {n} " + "x" * 190, value=Decimal("100"))

    answer = reply("python total", reason="timeout")

    assert answer.startswith(f"{APOLOGY}\n\n*Python total*")
    assert len(answer) <= MAX_REPLY_CHARS


def test_courses_matching_equally_are_listed_to_choose_from():
    make_course("Python para principiantes", price="900.00")
    make_course("Python para expertos", level=Level.ADVANCED, price="1900.00")
    make_course("Excel con IA", description="Hojas de cálculo.")

    answer = reply("python")

    assert answer == (
        "Estos cursos tratan de lo que buscas:\n"
        "1. *Python para principiantes* — Principiante — $900 MXN\n"
        "2. *Python para expertos* — Avanzado — $1,900 MXN\n\n"
        "Escríbeme el número o el nombre de uno para ver sus detalles."
    )


def test_a_level_narrows_a_topic():
    make_course("Python para principiantes", price="900.00")
    make_course("Python para expertos", level=Level.ADVANCED, price="1900.00")

    assert reply("python avanzado").startswith("*Python para expertos*\n")


def test_cents_are_shown_only_when_there_are_some():
    make_course("Curso con centavos", price="1234.50")

    assert "$1,234.50 MXN" in reply("cursos")


def test_a_long_message_costs_a_bounded_number_of_queries(demo, django_assert_max_num_queries):
    text = "hola quiero saber sobre visión computadora python redes neuronales datos marketing agentes deep learning"

    with django_assert_max_num_queries(10):
        answer = reply(text)

    assert answer


@pytest.mark.parametrize(
    "text", ["Vale, gracias", "ok, pago después", "en cuanto esté listo te aviso", "en cuanto me es posible te escribo"]
)
def test_everyday_spanish_is_not_taken_for_a_price_question(demo, text):
    assert "cuesta" not in reply(text) and "$" not in reply(text)


@pytest.mark.parametrize("text", ["___", "_hola_"])
def test_whatsapp_italics_and_underscores_do_not_match_the_whole_catalogue(demo, text):
    assert reply(text).count("•") <= len(MENU_ITEMS) + 1


@pytest.mark.parametrize("text", ["¿Cuánto está el curso?", "q presio tiene", "cuanto cobran", "How much is it?"])
def test_price_questions_in_other_words_are_recognised(demo, text):
    assert detect_intent([text]).kind == "price"


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("¿Cuáles son las formas de pago?", "las formas de pago"),
        ("¿aceptan pago con tarjeta?", "las formas de pago"),
        ("¿se puede pagar a meses sin intereses?", "las formas de pago"),
        ("¿cuándo empieza el próximo grupo?", "las fechas de inicio"),
        ("¿qué horario tienen?", "los horarios"),
        ("¿tienen descuento?", "descuentos ni promociones"),
    ],
)
def test_what_the_catalogue_does_not_hold_is_said_plainly_with_a_person_offered(demo, text, missing):
    answer = reply(text)

    assert answer.startswith(f"No tengo ese dato: el catálogo no incluye {missing}.")
    assert 'escribe "asesor"' in answer
    assert "$" not in answer  # "meses" in a bonus is no reason to list courses


def test_certificates_come_from_the_bonuses_only(demo):
    answer = reply("¿tienen certificado?")

    assert answer.startswith("Según el catálogo, estos cursos incluyen certificado o constancia:")
    assert "*Análisis de datos con IA* — Certificado con valor curricular" in answer
    assert "MLOps" not in answer  # an exam voucher is not a certificate of the course


def test_the_cheapest_is_given_per_currency(demo):
    answer = reply("¿cuál es el más barato?")

    assert "El más económico en MXN: *Prompt engineering: comunica mejor con la IA* — *$1,490 MXN*." in answer
    assert "El más económico en USD: *MLOps: modelos de IA en la nube* — *$349 USD*." in answer


def test_a_budget_lists_only_courses_within_it_in_its_currency(demo):
    answer = reply("tienen algo de menos de 3000?")

    assert answer.startswith("Cursos de hasta *$3,000 MXN*:")
    assert "USD" not in answer
    for course in Course.objects.filter(active=True, currency="MXN"):
        assert (f"*{course.name}*" in answer) == (course.price <= 3000), course.name


def test_a_profession_gets_a_recommendation_from_the_catalogue(demo):
    answer = reply("soy diseñadora, ¿cuál me recomiendas?")

    assert answer.startswith("Por lo que me cuentas, te recomiendo:\n1. *IA generativa para marketing*")


@pytest.mark.parametrize("text", ["Dame de baja", "no quiero más mensajes"])
def test_the_consent_features_own_keywords_are_opt_outs_here_too(demo, text):
    assert "ALTA" in reply(text)


@pytest.mark.parametrize("text", ["ya no quiero recibir mensajes", "ya no me envíen nada", "stop sending me messages"])
def test_a_wish_to_stop_in_other_words_gets_the_keyword_not_a_false_confirmation(demo, text):
    answer = reply(text)

    assert "*BAJA*" in answer or "*STOP*" in answer
    assert "ALTA" not in answer and "START" not in answer and "$" not in answer  # nothing was switched off


def test_a_modality_narrows_a_price_list(demo):
    answer = reply("¿cuánto cuestan los cursos en línea?")

    assert answer.startswith("Nuestros precios")
    for course in Course.objects.filter(active=True):
        online = course.modality != Modality.IN_PERSON
        assert (f"*{course.name}*" in answer) <= online, course.name


def test_the_cheapest_of_those_is_taken_from_the_list_just_shown(demo):
    answer = reply("¿tienen algo de python?", "¿el más barato de esos?")

    assert "El más económico en MXN: *Análisis de datos con IA*" in answer
    assert "Prompt engineering" not in answer


@pytest.mark.parametrize("text", ["mil gracias por la info!!", "gracias por tu ayuda"])
def test_thanks_for_the_information_is_thanks_not_a_request_for_it(demo, text):
    assert reply(text).startswith("¡Con gusto!")


def test_words_written_together_are_read_apart(demo):
    assert "*Deep Learning avanzado*" in reply("deeplearning")


def test_the_profession_does_not_drown_what_the_user_asks_for(demo):
    answer = reply("soy gerente y necesito una política de uso de IA para la empresa")

    assert answer.startswith("Por lo que me cuentas, te recomiendo:\n1. *Ética y gobernanza de la IA*")


@pytest.mark.parametrize(
    ("plural", "singular", "modality"),
    [
        ("¿cuánto cuestan los cursos híbridos?", "¿cuánto cuestan los cursos híbrido?", Modality.HYBRID),
        ("precios de los cursos remotos", "precios de los cursos remoto", None),
        ("¿cuánto cuestan los cursos asíncronos?", "¿cuánto cuestan los cursos asíncrono?", Modality.SELF_PACED),
    ],
)
def test_a_modality_in_the_plural_is_read_like_the_singular(demo, plural, singular, modality):
    answer = reply(plural)

    assert answer == reply(singular)
    if modality is not None:
        listed = [c for c in Course.objects.filter(active=True) if f"*{c.name}*" in answer]
        assert listed and all(c.modality == modality for c in listed)


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("what's the cheapest course you have?", "first"),
        ("whats the cheapest?", "first"),
        ("What’s the most expensive course?", "last"),
    ],
)
def test_whats_in_english_is_what_is_not_whatsapp(demo, text, end):
    in_pesos = Course.objects.filter(active=True, currency="MXN").order_by("price")
    expected = getattr(in_pesos, end)()

    answer = reply(text)

    assert f"*{expected.name}*" in answer
    assert "Automatización" not in answer  # the course that mentions WhatsApp


def test_whats_for_whatsapp_still_finds_the_course_about_it(demo):
    answer = reply("quiero automatizar mi whats")

    assert "*Automatización con IA para PyMEs*" in answer


@pytest.mark.parametrize("text", ["yo vivo en monterrey, hay algo ahi?", "I live in Texas, what do you have?"])
def test_where_the_customer_lives_is_not_a_live_course(demo, text):
    answer = reply(text)

    assert not answer.startswith(("Cursos en vivo", "Live courses"))


@pytest.mark.parametrize("text", ["¿tienen cursos en vivo?", "do you have live classes?"])
def test_live_courses_are_still_read_as_live(demo, text):
    answer = reply(text)

    assert answer.startswith(("Cursos en vivo", "Live courses")), answer


@pytest.mark.parametrize(
    ("text", "level", "modalities"),
    [
        (
            "busco algo presencial o hibrido, nivel intermedio",
            Level.INTERMEDIATE,
            {Modality.IN_PERSON, Modality.HYBRID},
        ),
        ("presencial para principiantes?", Level.BEGINNER, {Modality.IN_PERSON, Modality.HYBRID}),
        ("en linea en vivo para principiantes?", Level.BEGINNER, {Modality.ONLINE_LIVE, Modality.HYBRID}),
        ("any in-person course for beginners?", Level.BEGINNER, {Modality.IN_PERSON, Modality.HYBRID}),
    ],
)
def test_a_modality_asked_at_a_level_lists_only_that_level(demo, text, level, modalities):
    expected = {c.name for c in Course.objects.filter(active=True, level=level, modality__in=modalities)}
    assert expected  # the demo catalogue has one of each

    answer = reply(text)

    listed = {c.name for c in Course.objects.filter(active=True) if f"*{c.name}*" in answer}
    assert listed == expected


def test_a_modality_with_no_course_at_the_level_says_so_and_lists_the_others(demo):
    assert not Course.objects.filter(active=True, level=Level.ADVANCED, modality=Modality.HYBRID).exists()

    answer = reply("hay algo avanzado hibrido?")

    assert answer.startswith("No tengo cursos híbridos de nivel *Avanzado*.")
    hybrid = {c.name for c in Course.objects.filter(active=True, modality=Modality.HYBRID)}
    assert {c.name for c in Course.objects.filter(active=True) if f"*{c.name}*" in answer} == hybrid


@pytest.mark.parametrize(
    "text",
    [
        "soy nueva en esto de la ia, no se nada de programacion, cual me recomiendas??",
        "no se programar, que curso me sirve?",
        "Which course would you recommend for a complete beginner with no coding experience?",
        "I can't code, what do you recommend?",
    ],
)
def test_someone_who_cannot_code_is_recommended_beginner_courses(demo, text):
    answer = reply(text)

    listed = [c for c in Course.objects.filter(active=True) if f"*{c.name}*" in answer]
    assert listed and all(c.level == Level.BEGINNER for c in listed)


def test_wanting_to_learn_python_still_finds_the_python_courses(demo):
    answer = reply("quiero aprender python")

    assert "*Visión por computadora con Python*" in answer


def test_a_payment_question_names_no_course_its_words_happen_to_match(demo):
    # "transferencia" is also in "transferencia de aprendizaje", which a course's description mentions.
    answer = reply("aceptan oxxo o transferencia?")

    assert answer.startswith("No tengo ese dato")
    assert not any(f"*{c.name}*" in answer for c in Course.objects.filter(active=True))


def test_a_payment_question_about_a_named_course_still_names_it(demo):
    answer = reply("se puede pagar con tarjeta el de marketing?")

    assert "*IA generativa para marketing*" in answer


@pytest.mark.parametrize(
    "text", ["¿el de marketing es presencial o en línea?", "is the marketing course in person or online?"]
)
def test_an_either_or_modality_question_is_answered_without_a_yes_or_no(demo, text):
    answer = reply(text)

    assert answer.startswith("*IA generativa para marketing* ")
    assert "híbrido" in answer or "hybrid" in answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿por dónde empiezo?", None),
        ("I work in marketing and want to use AI in my job, where do I start?", "IA generativa para marketing"),
    ],
)
def test_where_to_start_asks_for_advice_not_a_start_date(demo, text, expected):
    answer = reply(text)

    assert not answer.startswith(("No tengo ese dato", "I don't have that"))
    listed = [c for c in Course.objects.filter(active=True) if f"*{c.name}*" in answer]
    if expected is None:
        assert listed and all(c.level == Level.BEGINNER for c in listed)
    else:
        assert [c.name for c in listed] == [expected]


def test_a_bonus_only_some_students_get_says_who(demo):
    bonus = CourseBonus.objects.get(name="Cámara web HD para prácticas")
    assert "presencial" in bonus.description

    answer = reply("¿qué bonos trae el de visión por computadora?")

    assert "Cámara web HD para prácticas" in answer
    assert "Incluida para alumnos de la modalidad presencial" in answer
    plain = reply("¿qué bonos trae el de prompt engineering?")
    assert "Plantillas de prompts para ventas" in plain and "—" not in plain  # no limit: the name and value only


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("¿el curso es en inglés o en español?", "el idioma de los cursos"),
        ("Do you have courses in English? I don't speak Spanish", "the language of instruction"),
        ("is there a job guarantee after finishing?", "job placement or job guarantees"),
        ("¿tienen bolsa de trabajo?", "bolsa de trabajo ni garantía de empleo"),
        ("do you have anything for kids? my son is 12", "age limits or courses for children"),
        ("¿tienen cursos para niños?", "edades mínimas ni cursos para niños"),
    ],
)
def test_what_the_catalogue_does_not_say_is_said_plainly_not_met_with_the_menu(demo, text, missing):
    answer = reply(text)

    assert answer.startswith(("No tengo ese dato", "I don't have that")) and missing in answer


@pytest.mark.parametrize("text", ["Sorry, can we continue in English? My Spanish isn't great", "do you speak english?"])
def test_asking_to_go_on_in_english_gets_the_menu_in_english_not_a_course(demo, text):
    answer = reply(text)

    assert 'write "courses"' in answer
    assert not any(f"*{c.name}*" in answer for c in Course.objects.filter(active=True))


@pytest.mark.parametrize(
    "text", ["precios menores a 3000", "quiero conseguir trabajo en datos, ¿qué curso me recomiendas?"]
)
def test_words_near_those_questions_are_not_taken_for_them(demo, text):
    assert not reply(text).startswith("No tengo ese dato")


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("how much is the marketing course in dollars?", "It is priced in MXN only"),
        ("¿cuánto cuesta el de llms en pesos mexicanos?", "Su precio solo está en USD"),
        ("¿cuánto cuesta el de marketing en pesos?", None),
    ],
)
def test_a_price_asked_in_another_currency_says_the_course_has_only_its_own(demo, text, note):
    answer = reply(text)

    if note is None:
        assert "solo está en" not in answer and "priced in" not in answer
    else:
        assert note in answer


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("cuanto cuesta el de etica, cuanto dura y si es en vivo", "Ética y gobernanza de la IA"),
        ("how much is the intro course? what's included?", "Introducción a la Inteligencia Artificial"),
        ("how long is the machine lerning course and how much in USD?", "Machine Learning aplicado"),
    ],
)
def test_several_facts_of_one_course_asked_at_once_get_its_card_with_all_of_them(demo, text, name):
    course = Course.objects.get(name=name)

    answer = reply(text)

    assert answer.startswith(f"*{name}*")
    assert money(course) in answer and f"{course.sessions_count} (" in answer  # price and length
    assert any(label in answer for label in ("• Modalidad:", "• Format:"))


def test_prices_of_the_courses_of_a_format_are_still_a_price_list(demo):
    assert reply("q precio tienen los cursos en linea").startswith("Nuestros precios de los cursos en línea")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("¿y el de dialogflow?", "Ese curso ya no se ofrece."),
        ("is the dialogflow course still available?", "That course is no longer offered."),
    ],
)
def test_a_retired_course_asked_for_by_name_is_said_to_be_no_longer_offered_without_naming_it(demo, text, said):
    assert "Dialogflow" in Course.objects.get(active=False).name

    answer = reply(text)

    assert answer.startswith(said)
    assert "Dialogflow" not in answer  # an inactive course is never offered (test_inactive_courses_are_never_offered)


def test_a_topic_no_course_ever_had_is_not_taken_for_a_retired_course(demo):
    assert "ya no se ofrece" not in reply("¿tienen algo de cocina?")
