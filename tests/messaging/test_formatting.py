"""Markdown → WhatsApp formatting, and splitting replies at Twilio's 1,600-character limit."""

import random
import re

import pytest

from messaging.formatting import WHATSAPP_LIMIT, split_message, to_whatsapp

# --- to_whatsapp -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**Precio:** $2,990", "*Precio:* $2,990"),
        ("__Importante__", "*Importante*"),
        ("Es *muy* práctico", "Es _muy_ práctico"),
        ("_ya en cursiva_", "_ya en cursiva_"),
        ("~~$5,000~~ $3,990", "~$5,000~ $3,990"),
        ("***Oferta***", "*_Oferta_*"),
        ("**Curso con *Python* incluido**", "*Curso con _Python_ incluido*"),
        ("*Nota:* cupo limitado", "_Nota:_ cupo limitado"),
    ],
)
def test_emphasis_becomes_whatsapp_emphasis(markdown, expected):
    assert to_whatsapp(markdown) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("# Nuestros cursos", "*Nuestros cursos*"),
        ("### Nivel **intermedio** ###", "*Nivel intermedio*"),
        ("## **Detalles**", "*Detalles*"),
    ],
)
def test_headings_become_bold_lines(markdown, expected):
    assert to_whatsapp(markdown) == expected


def test_bullets_become_dots_and_keep_their_indentation():
    markdown = "* Python\n- Pandas\n  + Gráficas\n1. Primero"

    assert to_whatsapp(markdown) == "• Python\n• Pandas\n  • Gráficas\n1. Primero"


def test_bullet_with_emphasis_is_a_bullet_not_italics():
    assert to_whatsapp("* **Sesiones:** 8\n* *Modalidad:* en vivo") == "• *Sesiones:* 8\n• _Modalidad:_ en vivo"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[Inscríbete aquí](https://brenda.mx/inscripcion)", "Inscríbete aquí (https://brenda.mx/inscripcion)"),
        ("[https://brenda.mx](https://brenda.mx)", "https://brenda.mx"),
        ("<https://brenda.mx/temario>", "https://brenda.mx/temario"),
    ],
)
def test_links_show_their_url(markdown, expected):
    assert to_whatsapp(markdown) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://brenda.mx/cursos/machine_learning_aplicado",
        "https://x.test/a__b__c",
        "https://x.test/*estrella*/x",
        "https://x.test/q?a=1&b=_2_",
        "www.brenda.mx/mi_curso_favorito",
    ],
)
def test_urls_with_markdown_characters_survive(url):
    assert to_whatsapp(f"Más info: {url} y **ya**") == f"Más info: {url} y *ya*"
    assert to_whatsapp(f"[temario]({url})") == f"temario ({url})"


def test_code_is_left_alone():
    markdown = "Ejemplo:\n```python\nx = a_b * c_d  # **no**\n```\nUsa `df.head()` o `mi_var`."

    assert to_whatsapp(markdown) == markdown


def test_blank_lines_and_outer_whitespace_are_collapsed():
    assert to_whatsapp("\n\n  Hola  \n\n\n\n\nAdiós\n\n") == "Hola\n\nAdiós"


def test_snake_case_and_arithmetic_are_not_emphasis():
    assert to_whatsapp("usa mi_variable_larga y 5*3*2") == "usa mi_variable_larga y 5*3*2"


def test_horizontal_rules_are_dropped():
    assert to_whatsapp("Arriba\n\n---\n\nAbajo") == "Arriba\n\nAbajo"


def test_a_realistic_reply():
    markdown = (
        "## Machine Learning aplicado\n\n"
        "Aprenderás a **construir modelos** con *scikit-learn*.\n\n"
        "- **Sesiones:** 8\n"
        "- **Precio:** ~~$9,990~~ $7,990 MXN\n\n"
        "Más detalles en [el temario](https://brenda.mx/ml_aplicado)."
    )

    assert to_whatsapp(markdown) == (
        "*Machine Learning aplicado*\n\n"
        "Aprenderás a *construir modelos* con _scikit-learn_.\n\n"
        "• *Sesiones:* 8\n"
        "• *Precio:* ~$9,990~ $7,990 MXN\n\n"
        "Más detalles en el temario (https://brenda.mx/ml_aplicado)."
    )


# --- split_message -----------------------------------------------------------------


def assert_is_a_faithful_split(text, parts, limit):
    """Parts are non-empty, within the limit, and cover the text in order with only whitespace at the cuts."""
    assert all(parts), parts
    assert all(len(part) <= limit for part in parts), [len(p) for p in parts]
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"part not found in order: {part[:40]!r}"
        assert text[position:found].strip() == "", f"content lost before {part[:40]!r}"
        position = found + len(part)
    assert text[position:].strip() == ""


def test_a_short_message_is_one_part():
    assert split_message("  Hola, ¿en qué te ayudo?  ") == ["Hola, ¿en qué te ayudo?"]


def test_empty_or_blank_text_gives_no_parts():
    assert split_message("") == []
    assert split_message(" \n\n ") == []


def test_exactly_the_limit_is_one_part():
    text = ("palabra " * 200)[:1599] + "x"
    assert len(text) == WHATSAPP_LIMIT

    assert split_message(text) == [text]


def test_one_over_the_limit_splits_at_a_word():
    text = "a" * 1500 + " " + "b" * 100
    assert len(text) == 1601

    assert split_message(text) == ["a" * 1500, "b" * 100]


def test_a_single_huge_word_is_cut_hard():
    word = "x" * 4000

    assert split_message(word) == ["x" * 1600, "x" * 1600, "x" * 800]


def test_paragraphs_are_preferred_over_lines_and_sentences():
    first = "Primer párrafo. " * 50  # 800 characters
    second = "Segundo párrafo.\n" * 40  # 680 characters
    third = "Tercero. " * 30
    text = f"{first.strip()}\n\n{second.strip()}\n\n{third.strip()}"

    parts = split_message(text)

    assert parts == [f"{first.strip()}\n\n{second.strip()}", third.strip()]


def test_a_long_paragraph_splits_at_lines():
    lines = [f"• Sesión {n}: " + "contenido " * 10 for n in range(1, 30)]
    text = "\n".join(lines)

    parts = split_message(text, limit=300)

    assert all(part.startswith("• Sesión") for part in parts)
    assert_is_a_faithful_split(text, parts, 300)


def test_a_long_line_splits_after_spanish_sentences():
    text = "¿Te interesa el curso de IA? ¡Claro que sí! Tiene ocho sesiones… Y muchos bonos. " * 10

    parts = split_message(text, limit=200)

    assert all(part[0] in "¿¡TY" for part in parts), parts
    assert all(part[-1] in "?!….," for part in parts), parts
    assert_is_a_faithful_split(text, parts, 200)


def test_opening_spanish_marks_stay_with_their_sentence():
    text = "Hola. ¿Quieres ver el temario completo del curso? ¡Te lo mando!"

    assert split_message(text, limit=45) == ["Hola.", "¿Quieres ver el temario completo del curso?", "¡Te lo mando!"]


def test_emoji_count_double_so_parts_fit_however_they_are_counted():
    text = "😀" * 1000

    parts = split_message(text)

    assert "".join(parts) == text
    assert all(len(part.encode("utf-16-le")) // 2 <= WHATSAPP_LIMIT for part in parts)


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        split_message("hola", limit=0)


_VOCABULARY = ["curso", "IA", "¿Qué", "tal?", "¡Hola!", "sesión", "https://x.test/a_b", "**bold**", "…", "8,990"]


def _random_text(rng):
    pieces = []
    for _ in range(rng.randint(1, 400)):
        roll = rng.random()
        if roll < 0.05:
            pieces.append("\n\n")
        elif roll < 0.1:
            pieces.append("\n")
        elif roll < 0.15:
            pieces.append(rng.choice([". ", "? ", "! ", "… "]))
        elif roll < 0.17:
            pieces.append("z" * rng.randint(1, 300))  # sometimes a word longer than small limits
        else:
            pieces.append(rng.choice(_VOCABULARY) + " " * rng.randint(0, 2))
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(40))
def test_property_any_text_splits_faithfully(seed):
    rng = random.Random(seed)
    text = _random_text(rng)
    limit = rng.choice([20, 50, 160, 700, WHATSAPP_LIMIT])

    parts = split_message(text, limit=limit)

    assert_is_a_faithful_split(text, parts, limit)
    assert re.sub(r"\s+", "", "".join(parts)) == re.sub(r"\s+", "", text)


@pytest.mark.parametrize("seed", range(20))
def test_property_words_are_cut_only_when_longer_than_the_limit(seed):
    rng = random.Random(1000 + seed)
    words = ["".join(rng.choice("abcdeñó") for _ in range(rng.randint(1, 30))) for _ in range(rng.randint(50, 300))]
    text = " ".join(words)
    limit = rng.choice([30, 60, 120])

    parts = split_message(text, limit=limit)

    assert [word for part in parts for word in part.split()] == words


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("\ue0007\ue001 hola", "7 hola"),  # our placeholder characters in the input are dropped
        ("[x](`code`)", "x (`code`)"),
        ("Inscríbete: **https://brenda.mx/python**.", "Inscríbete: *https://brenda.mx/python*."),
    ],
)
def test_hostile_or_odd_markdown_never_leaks_placeholders(markdown, expected):
    assert to_whatsapp(markdown) == expected
