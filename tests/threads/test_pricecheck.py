"""The price fact-checker: which amounts it finds in a reply, which it flags, and what it cuts."""

import json
import random
import timeit
from decimal import Decimal

import pytest

from threads.pricecheck import Money, check_prices, find_money, remove_wrong_amounts

CATALOGUE = [(Decimal("4590.00"), "MXN"), (Decimal("1490.00"), "MXN"), (Decimal("349.00"), "USD")]


def amounts(text):
    return [(money.text, money.amount, money.currency) for money in find_money(text)]


@pytest.mark.parametrize(
    "text",
    [
        "El curso cuesta $4,590 MXN.",
        "El curso cuesta $4,590.00 MXN.",
        "El curso cuesta $4590 MXN.",
        "El curso cuesta 4590 MXN.",
        "El curso cuesta MXN 4,590.",
        "El curso cuesta MXN $4,590.",
        "El curso cuesta MX$4,590.",
        "El curso cuesta 4.590,00 MXN.",
        "El curso cuesta 4.590 pesos.",
        "El curso cuesta 4,590 pesos mexicanos.",
        "El curso cuesta $4,590 M.N. y dura un mes.",
        "El curso cuesta $ 4,590.",
        "El curso cuesta $4\u00a0590 MXN.",
        "El curso cuesta $4\u202f590.",
        "El curso cuesta 4\u2009590 pesos.",
        "El curso cuesta $4 590.",
        "El curso cuesta ＄4590.",
        "El curso cuesta *$4,590 MXN*.",
    ],
)
def test_correct_peso_price_passes_in_every_format(text):
    check = check_prices(text, CATALOGUE)

    assert len(check.found) == 1
    assert check.found[0].amount == Decimal("4590")
    assert check.ok


@pytest.mark.parametrize(
    "text",
    [
        "Cuesta USD 349.",
        "Cuesta 349 USD.",
        "Cuesta US$349.",
        "Cuesta USD$ 349.",
        "Cuesta 349 dólares.",
        "Cuesta 349 dolares.",
        "Cuesta 349 DO\u0301LARES.",
        "Cuesta U$S 349.",
        "Cuesta 349 dlls.",
    ],
)
def test_correct_dollar_price_passes_in_every_format(text):
    check = check_prices(text, CATALOGUE)

    assert [money.currency for money in check.found] == ["USD"]
    assert check.ok


def test_wrong_number_is_flagged():
    check = check_prices("El curso cuesta $4,990 MXN.", CATALOGUE)

    assert not check.ok
    assert [money.text for money in check.wrong] == ["$4,990 MXN"]


def test_right_number_in_wrong_currency_is_flagged():
    check = check_prices("El curso cuesta 349 MXN.", [(Decimal("349.00"), "USD")])

    assert [money.text for money in check.wrong] == ["349 MXN"]


def test_bare_dollar_sign_matches_a_price_in_any_currency():
    assert check_prices("Cuesta $349.", CATALOGUE).ok
    assert check_prices("Cuesta $1,490.", CATALOGUE).ok


def test_dot_before_three_digits_groups_thousands():
    assert amounts("Cuesta $1.490") == [("$1.490", Decimal("1490"), None)]
    assert check_prices("Cuesta $1.490", CATALOGUE).ok


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("$349", "349"),
        ("$4590", "4590"),
        ("$4,590", "4590"),
        ("$4.590", "4590"),
        ("$4,590.00", "4590"),
        ("$4.590,00", "4590"),
        ("$4590,50", "4590.5"),
        ("$349.99", "349.99"),
        ("$1,234,567.89", "1234567.89"),
        ("$1 234 567,89", "1234567.89"),
        ("$4 mil", "4000"),
        ("$4.5k", "4500"),
    ],
)
def test_number_formats_are_read_as_values(written, value):
    assert [money.amount for money in find_money(written)] == [Decimal(value)]


@pytest.mark.parametrize("written", ["$4.5900", "$1,23,456", "$1.234.56", "$0,590", "$" + "9" * 400])
def test_unreadable_number_is_always_wrong(written):
    check = check_prices(f"Cuesta {written}.", [(Decimal("4590"), "MXN"), (Decimal("1234.56"), "MXN")])

    assert len(check.wrong) == 1
    assert check.wrong[0].amount.is_nan()


@pytest.mark.parametrize(
    ("written", "currency"),
    [
        ("4,590 pesos colombianos", "COP"),
        ("349 dólares canadienses", "CAD"),
        ("€349", "EUR"),
        ("349 €", "EUR"),
        ("349 eur", "EUR"),
        ("S/ 349", "PEN"),
        ("US$349 MXN", "USD/MXN"),
    ],
)
def test_other_currencies_are_named(written, currency):
    assert [money.currency for money in find_money(written)] == [currency]
    assert not check_prices(written, CATALOGUE).ok


def test_amount_span_points_into_the_reply():
    text = "Hola 👋 el precio es $4,590 MXN y hay bonos."
    (money,) = find_money(text)

    assert text[money.start : money.end] == money.text == "$4,590 MXN"


@pytest.mark.parametrize(
    "text",
    [
        "Empieza el 15 de enero de 2026.",
        "Son 12 sesiones de 2 horas.",
        "La clase es a las 10:00 (hora CDMX).",
        "Llámanos al +52 55 1234 5678.",
        "Tienes 10% de descuento.",
        "1. Python\n2. Machine Learning\n3. Deep Learning",
        "Más de 5 mil alumnos. Aprende PHP 8 y el TOP 10 de modelos.",
        "¿Ves? Son 3 módulos de 4 semanas, 2026-01-15.",
    ],
)
def test_plain_numbers_are_not_money(text):
    assert find_money(text) == []


def test_code_between_two_numbers_belongs_to_the_second():
    assert amounts("Son 2 USD 349 cada uno") == [("USD 349", Decimal("349"), "USD")]


def test_several_amounts_in_one_reply():
    text = (
        "Te comparto los precios:\n"
        "• *IA para todos*: $4,590 MXN\n"
        "• *Prompting*: $1,490 MXN\n"
        "• *MLOps*: USD 349\n"
        "• *Agentes*: $2,990 MXN\n"
        "Inicia el 15 de enero, 12 sesiones."
    )
    check = check_prices(text, CATALOGUE)

    assert [money.text for money in check.found] == ["$4,590 MXN", "$1,490 MXN", "USD 349", "$2,990 MXN"]
    assert [money.text for money in check.wrong] == ["$2,990 MXN"]


def test_derived_amounts_are_wrong_unless_the_caller_lists_them():
    text = "Son 3 pagos de $1,530 MXN y el bono vale $990 MXN."

    assert [money.text for money in check_prices(text, CATALOGUE).wrong] == ["$1,530 MXN", "$990 MXN"]
    assert check_prices(text, [*CATALOGUE, (Decimal("1530"), "MXN"), (Decimal("990"), "MXN")]).ok


def test_remove_wrong_amounts_keeps_correct_sentences_in_a_paragraph():
    text = "El curso A cuesta $4,590 MXN. El curso B cuesta $999 MXN. ¿Te interesa alguno?"
    check = check_prices(text, CATALOGUE)

    assert remove_wrong_amounts(text, check.wrong) == "El curso A cuesta $4,590 MXN. ¿Te interesa alguno?"


def test_remove_wrong_amounts_drops_whole_list_lines():
    text = (
        "Estos son los precios:\n\n"
        "1. IA para todos: $4,590 MXN. Incluye bonos.\n"
        "2. Agentes: $2,990 MXN. Incluye bonos.\n"
        "3. MLOps: USD 349\n\n"
        "¿Cuál te interesa?"
    )
    check = check_prices(text, CATALOGUE)

    assert remove_wrong_amounts(text, check.wrong) == (
        "Estos son los precios:\n\n"
        "1. IA para todos: $4,590 MXN. Incluye bonos.\n"
        "3. MLOps: USD 349\n\n"
        "¿Cuál te interesa?"
    )


def test_remove_wrong_amounts_tidies_blank_lines_left_behind():
    text = "Hola.\n\n- A: $999 MXN\n- B: $888 MXN\n\n\nTe ayudo con algo más?"
    check = check_prices(text, CATALOGUE)

    assert remove_wrong_amounts(text, check.wrong) == "Hola.\n\nTe ayudo con algo más?"


def test_number_dots_and_abbreviations_do_not_split_sentences():
    text = "Cuesta aprox. $4.590 MXN y dura 4 semanas. El otro cuesta $4.990 MXN. ¡Saludos!"
    check = check_prices(text, CATALOGUE)

    assert remove_wrong_amounts(text, check.wrong) == "Cuesta aprox. $4.590 MXN y dura 4 semanas. ¡Saludos!"


def test_remove_wrong_amounts_returns_empty_when_nothing_meaningful_remains():
    text = "👉 *$999 MXN*\n\n😊"
    check = check_prices(text, CATALOGUE)

    assert remove_wrong_amounts(text, check.wrong) == ""


def test_remove_wrong_amounts_leaves_text_alone_without_wrong_amounts():
    text = "  Cuesta $4,590 MXN.  \n\n\n¿Te inscribo?"

    assert remove_wrong_amounts(text, []) == text


def test_stale_span_is_found_by_its_text():
    stale = Money(text="$999 MXN", amount=Decimal("999"), currency="MXN", start=0, end=8)

    assert remove_wrong_amounts("Hola. Cuesta $999 MXN. Adiós.", [stale]) == "Hola. Adiós."


def test_empty_text():
    check = check_prices("", CATALOGUE)

    assert check.found == check.wrong == []
    assert check.ok
    assert find_money("") == []
    assert remove_wrong_amounts("", []) == ""


def test_as_record_is_json_serialisable():
    check = check_prices("A: $4,590 MXN. B: $4.5900 MXN.", CATALOGUE)

    record = json.loads(json.dumps(check.as_record()))

    assert record == {"found": ["$4,590 MXN", "$4.5900 MXN"], "wrong": ["$4.5900 MXN"]}


def test_hostile_input_never_raises_and_the_cleaned_text_passes():
    rng = random.Random(7)
    alphabet = [*"0123456789.,$＄﹩€£ \u00a0\u202f\n*_~-•¿?!\ud800\u0301٣𝟒%:+/", "USD", "mxn", "pesos", " mil ", "M.N."]
    prices = [*CATALOGUE, (Decimal("sNaN"), "MXN"), ("no es precio", "MXN"), (349, None), (1,), None]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        check = check_prices(text, prices)
        cleaned = remove_wrong_amounts(text, check.wrong)

        json.dumps(check.as_record())
        assert all(text[money.start : money.end] == money.text for money in check.found)
        assert check_prices(cleaned, prices).ok


REPLY = (
    "¡Hola, Ana! 😊 Con gusto te comparto las opciones que mejor encajan con lo que buscas:\n\n"
    "1. *IA Generativa para Negocios* (principiante): $4,590 MXN. Son 12 sesiones en vivo de 2 horas, "
    "martes y jueves a las 19:00, e inicia el 15 de enero de 2026.\n"
    "2. *Prompt Engineering Profesional*: $1,490 MXN, 6 sesiones grabadas con acceso por 12 meses.\n"
    "3. *Machine Learning con Python* (intermedio): USD 349, 16 sesiones, incluye 3 proyectos reales.\n"
    "4. *Agentes de IA con LangChain* (avanzado): $8,990 MXN o 3 pagos de $2,997 MXN.\n"
    "5. *MLOps en la nube*: 599 dólares, 10 sesiones, certificado incluido.\n\n"
    "Bonos: al inscribirte antes del 31 de diciembre recibes la guía de prompts (valor $990 MXN) y "
    "una mentoría 1 a 1 (valor $1,500 MXN). Hay 10% de descuento pagando de contado, así que el curso "
    "1 te queda en $4.131 MXN. Si prefieres pagar en dólares, el curso 1 equivale a US$255.\n\n"
    "Todos los cursos incluyen acceso a la comunidad privada, las grabaciones de cada clase durante 12 meses, "
    "ejercicios prácticos y un certificado digital. Las clases en vivo son por Zoom y duran 2 horas; si no "
    "puedes asistir, la grabación queda lista en menos de 24 horas. Nuestros 8 instructores trabajan en "
    "bancos, startups y consultoras, así que los ejemplos son reales y aplicables desde la primera semana. "
    "Los grupos son de máximo 25 personas.\n\n"
    "Para apartar tu lugar solo necesito tu nombre completo y correo. También puedes llamarnos al "
    "+52 55 1234 5678 de lunes a viernes de 9:00 a 18:00. ¿Cuál te interesa más? Si quieres, te "
    "envío el temario completo de cualquiera de los 5 cursos y resolvemos tus dudas por aquí. 🚀"
)


def test_long_reply_is_checked_well_under_a_millisecond():
    catalogue = [(Decimal(1000 + 97 * n), "MXN" if n % 2 else "USD") for n in range(47)]
    catalogue += [(Decimal("4590.00"), "MXN"), (Decimal("1490.00"), "MXN"), (Decimal("349.00"), "USD")]
    assert 1500 <= len(REPLY) <= 1700
    assert len(check_prices(REPLY, catalogue).found) == 10

    seconds = min(timeit.repeat(lambda: check_prices(REPLY, catalogue), number=200, repeat=5)) / 200

    assert seconds < 0.001


# --- amounts tied to the course named beside them ----------------------------------------------

COURSES = {
    "IA generativa para marketing": {(Decimal("4590"), "MXN"), (Decimal("690"), "MXN")},
    "Automatización con IA para PyMEs": {(Decimal("3990"), "MXN")},
}
ALL_AMOUNTS = set().union(*COURSES.values())


def test_another_courses_price_for_the_named_course_is_wrong():
    check = check_prices("IA generativa para marketing cuesta $3,990 MXN.", ALL_AMOUNTS, courses=COURSES)
    assert [money.text for money in check.wrong] == ["$3,990 MXN"]


def test_each_amount_belongs_to_the_nearest_course_named_before_it_on_its_line():
    text = (
        "IA generativa para marketing cuesta $4,590 MXN (incluye un kit de $690 MXN) y "
        "automatizacion con ia para pymes, $3,990 MXN.\n"
        "$3,990 MXN: el precio de Automatización con IA para PyMEs."
    )
    assert check_prices(text, ALL_AMOUNTS, courses=COURSES).ok


def test_a_course_named_on_the_line_above_its_price_counts():
    check = check_prices("**IA generativa para marketing**\n- Precio: $3,990 MXN", ALL_AMOUNTS, courses=COURSES)
    assert [money.text for money in check.wrong] == ["$3,990 MXN"]


def test_a_new_paragraph_forgets_the_course_named_before():
    text = "IA generativa para marketing es ideal.\n\nOtro curso cuesta $3,990 MXN."
    assert check_prices(text, ALL_AMOUNTS, courses=COURSES).ok


def test_a_sentence_comparing_two_courses_may_quote_either_price():
    text = (
        "Si ya tomaste Automatización con IA para PyMEs, te sugiero IA generativa para marketing; "
        "el primero cuesta $3,990 MXN y el segundo $4,590 MXN."
    )
    assert check_prices(text, ALL_AMOUNTS, courses=COURSES).ok


def test_swapped_prices_in_a_list_are_wrong():
    text = "- IA generativa para marketing: $3,990 MXN\n- Automatización con IA para PyMEs: $4,590 MXN"
    assert len(check_prices(text, ALL_AMOUNTS, courses=COURSES).wrong) == 2
