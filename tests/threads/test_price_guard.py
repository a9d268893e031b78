"""No invented price reaches WhatsApp: replies are checked against the catalogue before they are sent."""

import pytest

from tests.fakes.openai import failed, message
from threads import message_log
from threads.answering import PRICE_REFERRAL, vet_prices
from threads.background import handle_response_event
from threads.models import Turn
from threads.services import process_user_messages

PHONE = "whatsapp:+5215566667777"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))

RIGHT = "El curso IA generativa para marketing cuesta **$4,590 MXN** e incluye plantillas."
WRONG = "El curso IA generativa para marketing cuesta $3,990 MXN. ¿Te lo aparto?"


def say(text: str = "¿cuánto cuesta el de marketing?") -> Turn:
    message_log.record_inbound(user_phone=PHONE, twilio_sid=f"SMp{next(_sid):031x}", body=text)
    process_user_messages(user_phone=PHONE)
    return Turn.objects.filter(user_phone=PHONE).latest("pk")


def model_inputs(fake) -> list[list[dict]]:
    return [call.body["input"] for call in fake.calls("/responses", "POST")]


def test_a_catalogue_price_passes_and_is_recorded(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message(RIGHT)])

    turn = say()

    assert outbox[-1].body == "El curso IA generativa para marketing cuesta *$4,590 MXN* e incluye plantillas."
    assert turn.price_checks == [{"found": ["$4,590 MXN"], "wrong": [], "action": "passed"}]
    assert len(model_inputs(fake_openai)) == 1


def test_bonus_values_and_spanish_thousands_are_catalogue_amounts(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message("Son $4.590 pesos e incluye una guía valorada en $490 MXN.")])

    turn = say()

    assert turn.price_checks[0]["action"] == "passed" and "$490 MXN" in outbox[-1].body


def test_a_wrong_price_gets_one_correction_and_only_the_correction_is_sent(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message(WRONG), message(RIGHT)])

    turn = say()

    assert [m.body for m in outbox] == [
        "El curso IA generativa para marketing cuesta *$4,590 MXN* e incluye plantillas."
    ]
    correction = model_inputs(fake_openai)[1]
    assert len(correction) == 1 and correction[0]["content"].startswith("[Verificación de precios")
    assert "$3,990 MXN" in correction[0]["content"]
    assert [check["action"] for check in turn.price_checks] == ["asked_again", "corrected"]
    assert turn.price_checks[0]["wrong"] == ["$3,990 MXN"]
    assert turn.status == Turn.Status.COMPLETED and not turn.fallback_used
    assert turn.openai_calls == 3  # conversation, reply, correction
    assert turn.input_tokens == sum(r["usage"]["input_tokens"] for r in fake_openai.responses.values())


def test_a_second_wrong_reply_never_reaches_the_user(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message(WRONG), message("Perdón, cuesta 4,190 MXN. Incluye plantillas para redes sociales.")])

    turn = say()

    body = outbox[-1].body
    assert "4,190" not in body and "3,990" not in body
    assert body.startswith("Incluye plantillas para redes sociales.")
    assert body.endswith("Para darte el precio exacto, escribe *precios* o el nombre del curso que te interesa.")
    assert PRICE_REFERRAL.replace("**", "*") in body
    assert [check["action"] for check in turn.price_checks] == ["asked_again", "removed"]
    assert turn.price_checks[-1]["wrong"] == ["4,190 MXN"]


def test_a_reply_that_is_only_a_wrong_price_is_replaced_by_the_catalogue_answer(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message("Cuesta $999 USD."), message("Cuesta $999 USD.")])

    turn = say()

    assert "999" not in outbox[-1].body
    assert "IA generativa para marketing" in outbox[-1].body  # the rule-based price answer
    assert turn.fallback_reason == "price_check" and turn.status == Turn.Status.FALLBACK
    assert [check["action"] for check in turn.price_checks] == ["asked_again", "replaced"]


def test_the_right_number_in_the_wrong_currency_is_wrong(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message("Cuesta 4,590 USD, con acceso de por vida."), message(RIGHT)])

    turn = say()

    assert turn.price_checks[0]["wrong"] == ["4,590 USD"] and "USD" not in outbox[-1].body


def test_numbers_that_are_not_money_are_not_checked(fake_openai, outbox, demo_catalogue):
    fake_openai.script(
        [message("Son 12 sesiones de 90 minutos desde el 15 de enero de 2027. Llámanos al 55 1234 5678.")]
    )

    turn = say("¿cuántas sesiones tiene?")

    assert turn.price_checks == [] and "12 sesiones" in outbox[-1].body


def test_a_reply_without_amounts_passes_without_reading_the_catalogue(demo_catalogue, django_assert_num_queries):
    turn = Turn(user_phone=PHONE)
    reply = "Son 12 sesiones de 90 minutos desde el 15 de enero de 2027."

    with django_assert_num_queries(0):
        assert vet_prices(turn, reply) == reply

    assert turn.price_checks == []


def test_a_failed_correction_cuts_the_wrong_sentence(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message(WRONG), failed()])

    turn = say()

    assert "3,990" not in outbox[-1].body and outbox[-1].body.startswith("¿Te lo aparto?")
    assert [check["action"] for check in turn.price_checks] == ["asked_again", "removed"]


def test_background_turns_get_the_same_correction(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_BACKGROUND = True
    fake_openai.script([message(WRONG), message(RIGHT)])
    say()
    turn = Turn.objects.get(user_phone=PHONE)

    event = fake_openai.complete_background(turn.response_id)
    asked = handle_response_event(event_type=event["type"], response_id=turn.response_id)
    assert asked.status == Turn.Status.BACKGROUND and outbox == []
    event = fake_openai.complete_background(asked.response_id)
    done = handle_response_event(event_type=event["type"], response_id=asked.response_id)

    assert done.status == Turn.Status.COMPLETED
    assert [m.body for m in outbox] == [
        "El curso IA generativa para marketing cuesta *$4,590 MXN* e incluye plantillas."
    ]
    assert [check["action"] for check in done.price_checks] == ["asked_again", "corrected"]


def test_background_second_wrong_reply_is_cut(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_BACKGROUND = True
    fake_openai.script([message(WRONG), message(WRONG)])
    say()
    turn = Turn.objects.get(user_phone=PHONE)
    for _ in range(2):
        turn.refresh_from_db()
        event = fake_openai.complete_background(turn.response_id)
        handle_response_event(event_type=event["type"], response_id=turn.response_id)

    turn.refresh_from_db()
    assert turn.status == Turn.Status.COMPLETED and len(outbox) == 1
    assert "3,990" not in outbox[0].body
    assert [check["action"] for check in turn.price_checks] == ["asked_again", "removed"]


def test_after_a_cut_the_model_learns_what_the_user_really_received(fake_openai, outbox, demo_catalogue):
    fake_openai.script(
        [message(WRONG), message("Perdón, cuesta 4,190 MXN. Incluye plantillas para redes sociales."), message("Ok.")]
    )
    say()

    say("¿y cuándo empieza?")

    note, question = model_inputs(fake_openai)[-1]
    assert note["content"].startswith("[Verificación de precios: tu respuesta anterior")
    assert "Incluye plantillas para redes sociales." in note["content"] and "4,190" not in note["content"]
    assert question["content"] == "¿y cuándo empieza?"


def test_a_passed_check_adds_no_note_to_the_next_turn(fake_openai, outbox, demo_catalogue):
    fake_openai.script([message(RIGHT), message("Ok.")])
    say()

    say("¿y cuándo empieza?")

    assert [item["content"] for item in model_inputs(fake_openai)[-1]] == ["¿y cuándo empieza?"]


def test_what_is_left_after_a_cut_is_checked_again(fake_openai, outbox, demo_catalogue):
    # Cutting the bonus sentence leaves "$3,990 MXN" right after the marketing course's name.
    reply = (
        "Te recomiendo IA generativa para marketing. También está Automatización con IA para PyMEs, "
        "con un bono valorado en $9,999 MXN. Su precio es $3,990 MXN."
    )
    fake_openai.script([message(reply), message(reply)])

    turn = say()

    assert "9,999" not in outbox[-1].body and "3,990" not in outbox[-1].body
    assert turn.price_checks[-1]["action"] in ("removed", "replaced")


def test_no_correction_is_started_without_time_for_it(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_RUN_TIMEOUT_S = 4  # under MIN_CORRECTION_S
    fake_openai.script([message(WRONG)])

    turn = say()

    assert len(model_inputs(fake_openai)) == 1
    assert [check["action"] for check in turn.price_checks] == ["removed"]
    assert "3,990" not in outbox[-1].body


def test_a_failed_background_correction_sends_the_first_reply_cut(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_BACKGROUND = True
    fake_openai.script([message(WRONG), failed()])
    say()
    turn = Turn.objects.get(user_phone=PHONE)
    for _ in range(2):
        turn.refresh_from_db()
        event = fake_openai.complete_background(turn.response_id)
        handle_response_event(event_type=event["type"], response_id=turn.response_id)

    turn.refresh_from_db()
    assert [m.body for m in outbox] == [f"¿Te lo aparto?\n\n{PRICE_REFERRAL.replace('**', '*')}"]
    assert [check["action"] for check in turn.price_checks] == ["asked_again", "removed"]
    assert turn.error.startswith("price correction failed: RunFailed")
