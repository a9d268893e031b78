"""The conversation service end to end: fake OpenAI over HTTP, in-memory outbox, real database."""

import json
import logging

import pytest
import responses as responses_lib
from django.core.management import call_command

from messaging.formatting import WHATSAPP_LIMIT
from tests.fakes.openai import function_call, message
from threads import message_log, repository
from threads.locks import acquire_user_lease, release_user_lease
from threads.models import Contact, Message, Turn
from threads.services import process_user_messages

PHONE = "whatsapp:+5215512345678"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))


def inbound(text: str, phone: str = PHONE, **kwargs) -> Message:
    msg, created = message_log.record_inbound(user_phone=phone, twilio_sid=f"SM{next(_sid):032x}", body=text, **kwargs)
    assert created
    return msg


def say(text: str, phone: str = PHONE) -> Turn:
    inbound(text, phone)
    assert process_user_messages(user_phone=phone) == 1
    return Turn.objects.filter(user_phone=phone).latest("pk")


def test_new_user_gets_a_reply_and_a_conversation(fake_openai, outbox):
    turn = say("Hola, me llamo Ana")

    assert [m.body for m in outbox] == ["Hola, soy Brenda. Te llamas Ana. Me escribiste: «Hola, me llamo Ana»."]
    assert outbox[0].to == PHONE
    thread_id = repository.get_thread_id(PHONE)
    assert thread_id.startswith("conv_") and thread_id == turn.thread_id
    assert turn.status == Turn.Status.COMPLETED and turn.engine == "responses"
    assert turn.latency_ms is not None and turn.input_tokens > 0 and not turn.fallback_used
    out = Message.objects.get(direction="out")
    assert (out.turn, out.origin, out.status, out.twilio_sid) == (turn, "assistant", "queued", "SMlocmem1")
    assert Message.objects.get(direction="in").turn == turn


def test_returning_user_is_remembered_with_one_openai_call(fake_openai, outbox):
    say("Hola, me llamo Ana")
    fake_openai.reset_requests()

    turn = say("¿Sigues ahí?")

    assert "«¿Sigues ahí?»" in outbox[-1].body
    assert "Te llamas Ana" in outbox[-1].body
    assert [(m, p) for m, p, _ in fake_openai.requests] == [("POST", "/v1/responses")]
    assert turn.openai_calls == 1


def test_a_returning_users_turn_without_tools_takes_at_most_15_queries(
    fake_openai, outbox, demo_catalogue, django_assert_max_num_queries
):
    say("Hola, me llamo Ana")
    inbound("¿Sigues ahí?")

    # Issue 9's budget for the hot path; `python -m bench --only calls` (table 1c) shows it by phase.
    with django_assert_max_num_queries(15):
        assert process_user_messages(user_phone=PHONE) == 1

    assert "Te llamas Ana" in outbox[-1].body
    turn = Turn.objects.latest("pk")
    assert turn.status == Turn.Status.COMPLETED and turn.tool_calls == []


def test_tool_answers_come_from_the_catalogue(fake_openai, outbox, demo_catalogue):
    turn = say("Busco un curso de visión por computadora")

    assert "Visión por computadora con Python" in outbox[-1].body
    assert [c["name"] for c in turn.tool_calls] == ["buscar_curso"]
    assert turn.tool_calls[0]["ok"] is True


def test_assistants_engine_end_to_end_with_tools_and_memory(assistants_engine, outbox, demo_catalogue):
    say("Hola, me llamo Luis")
    turn = say("Quiero un curso de visión")

    assert repository.get_thread_id(PHONE).startswith("thread_")
    assert turn.engine == "assistants" and turn.response_id.startswith("run_")
    assert "Visión por computadora con Python" in outbox[-1].body
    assert [c["name"] for c in turn.tool_calls] == ["buscar_curso"]
    say("¿Cómo me llamo?")
    assert "Te llamas Luis" in outbox[-1].body


def test_burst_of_messages_is_answered_once_in_order(fake_openai, outbox):
    for text in ["hola", "me llamo Eva", "tengo una duda", "sobre precios", "gracias"]:
        inbound(text)

    assert process_user_messages(user_phone=PHONE) == 1

    assert len(outbox) == 1
    assert "hola / me llamo Eva / tengo una duda / sobre precios / gracias" in outbox[0].body
    (turn,) = Turn.objects.all()
    assert turn.messages.filter(direction="in").count() == 5
    sent = fake_openai.calls("/responses", "POST")[-1].body["input"]
    assert [item["content"][0]["text"] if isinstance(item["content"], list) else item["content"] for item in sent] == [
        "hola",
        "me llamo Eva",
        "tengo una duda",
        "sobre precios",
        "gracias",
    ]


def test_messages_arriving_while_a_turn_holds_the_lease_wait_for_it(fake_openai, outbox):
    token = acquire_user_lease(PHONE, ttl_s=60)  # another worker is mid-turn
    inbound("hola")

    assert process_user_messages(user_phone=PHONE) == 0
    assert outbox == [] and message_log.has_pending_inbound(PHONE)

    release_user_lease(PHONE, token)
    assert process_user_messages(user_phone=PHONE) == 1
    assert len(outbox) == 1


def test_lost_conversation_is_recreated_from_the_transcript(fake_openai, outbox):
    say("Hola, me llamo Ana")
    old = repository.get_thread_id(PHONE)
    fake_openai.forget(old)

    turn = say("¿Cómo me llamo?")

    new = repository.get_thread_id(PHONE)
    assert new != old and turn.thread_id == new
    assert "Te llamas Ana" in outbox[-1].body
    seeded = fake_openai.calls("/conversations", "POST")[-1].body["items"]
    assert [i["role"] for i in seeded] == ["user", "assistant"]
    assert turn.status == Turn.Status.COMPLETED


@pytest.mark.parametrize("status", [429, 500, 503])
def test_openai_errors_end_in_a_fallback_reply(fake_openai, outbox, demo_catalogue, status, caplog):
    say("hola")
    fake_openai.fail_next("/responses", status, times=5)

    with caplog.at_level(logging.ERROR, logger="threads.services"):
        turn = say("¿Qué cursos tienen para principiantes?")

    assert turn.status == Turn.Status.FALLBACK and turn.fallback_used
    assert str(status) in turn.error or "Error" in turn.error
    reply = outbox[-1].body
    assert "problemas" in reply.lower() and "Introducción a la Inteligencia Artificial" in reply
    assert Message.objects.filter(direction="out").last().origin == "fallback"
    assert "answering with the fallback" in caplog.text
    assert "sk-test-fake" not in caplog.text


def test_deadline_ends_in_a_fallback_reply(fake_openai, outbox, settings):
    say("hola")
    settings.OPENAI_RUN_TIMEOUT_S = 0.3
    fake_openai.latency_s = 0.6

    turn = say("¿sigues ahí?")

    assert turn.status == Turn.Status.FALLBACK
    assert turn.error.startswith("RunTimeout")
    assert len(outbox) == 2 and "problemas" in outbox[-1].body


def test_endless_tool_calls_are_bounded_and_fall_back(fake_openai, outbox, settings, demo_catalogue):
    settings.OPENAI_MAX_TOOL_ROUNDS = 2
    fake_openai.script([function_call("buscar_curso", {"name": "python"})] * 5)

    turn = say("hola")

    assert turn.status == Turn.Status.FALLBACK and "ToolRounds" in turn.error
    assert len(outbox) == 1


def test_invalid_tool_arguments_go_back_to_the_model_as_errors(fake_openai, outbox):
    fake_openai.script([function_call("detalle_curso", "{not json"), message("Perdona, ¿qué curso buscas?")])

    turn = say("dame el detalle")

    assert outbox[-1].body == "Perdona, ¿qué curso buscas?"
    assert turn.status == Turn.Status.COMPLETED
    assert turn.tool_calls[0]["ok"] is False
    sent = fake_openai.calls("/responses", "POST")[-1].body["input"]
    output = next(i for i in sent if i.get("type") == "function_call_output")
    assert "error" in json.loads(output["output"])


def test_without_openai_the_catalogue_responder_answers(openai_off, outbox, demo_catalogue):
    turn = say("¿Qué cursos tienen?")

    assert turn.engine == "fallback" and turn.status == Turn.Status.FALLBACK
    assert "2. *Introducción a la Inteligencia Artificial*" in outbox[-1].body
    assert "problemas" not in outbox[-1].body.lower()


def test_long_replies_are_split_and_formatted_in_order(fake_openai, outbox):
    paragraphs = [f"**Parte {n}**: " + ("texto largo de prueba " * 30).strip() + "." for n in range(8)]
    fake_openai.script([message("\n\n".join(paragraphs))])

    say("cuéntame todo")

    assert len(outbox) > 1 and all(len(m.body) <= WHATSAPP_LIMIT for m in outbox)
    joined = "\n\n".join(m.body for m in outbox)
    assert joined.index("*Parte 0*") < joined.index("*Parte 7*") and "**" not in joined
    assert Message.objects.filter(direction="out").count() == len(outbox)


def test_paused_user_is_logged_but_not_answered(fake_openai, outbox):
    Contact.objects.create(user_phone=PHONE, bot_paused=True)
    inbound("hola, ¿hay alguien?")

    process_user_messages(user_phone=PHONE)

    assert outbox == [] and fake_openai.requests == []
    assert Message.objects.get(direction="in").status == Message.Status.HELD


def test_a_message_that_came_before_a_pause_is_held_for_staff(fake_openai, outbox):
    from threads.staff import set_bot_paused

    say("Hola, me llamo Ana")
    waiting = inbound("¿me ayudas?")
    set_bot_paused(user_phones=[PHONE], paused=True)  # staff took over before a worker got to it

    assert process_user_messages(user_phone=PHONE) == 1

    turn = Turn.objects.latest("pk")
    waiting.refresh_from_db()
    assert turn.status == Turn.Status.PAUSED and turn.thread_id == ""
    assert (waiting.status, waiting.turn, waiting.thread_id) == (Message.Status.HELD, turn, "")
    assert len(outbox) == 1 and len(fake_openai.calls("/responses", "POST")) == 1  # only the first turn's


def test_media_message_that_cannot_be_fetched_gets_a_polite_note(fake_openai, outbox):
    # No Twilio credentials: the image cannot be fetched, and nothing else came (more in tests/threads/test_media.py).
    inbound("", media=[message_log.InboundMedia(url="https://api.twilio.com/m/1", content_type="image/jpeg")])

    process_user_messages(user_phone=PHONE)

    assert outbox[-1].body.startswith("No pude abrir el archivo que enviaste")
    assert fake_openai.calls("/responses", "POST") == []
    assert Message.objects.get(direction="in").media[0]["reason"] == "not_configured"


@responses_lib.activate
def test_twilio_permanent_failure_is_recorded_and_the_turn_still_completes(fake_openai, settings):
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token-test"
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    responses_lib.post(
        f"https://api.twilio.com/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json",
        status=400,
        json={"code": 63016, "message": "Outside the allowed window", "status": 400},
    )

    turn = say("hola")

    out = Message.objects.get(direction="out")
    assert (out.status, out.error_code) == (Message.Status.FAILED, "63016")
    assert turn.status == Turn.Status.COMPLETED
    assert len(responses_lib.calls) == 1


def test_chat_command_talks_through_the_service(openai_off, demo_catalogue, capsys):
    import io

    call_command("chat", "--phone", "+5215599999999", stdin=io.StringIO("hola\n¿qué cursos tienen?\n/salir\n"))

    out = capsys.readouterr().out
    assert "--- WhatsApp to whatsapp:+5215599999999 ---" in out
    assert "Introducción a la Inteligencia Artificial" in out and "¡Hasta luego!" in out
    assert Message.objects.filter(user_phone="whatsapp:+5215599999999", direction="out").count() == 2


def test_chat_command_rejects_a_bad_phone():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Not a phone number"):
        call_command("chat", "--phone", "hola")


def test_after_a_reset_the_new_conversation_starts_afresh(fake_openai, outbox):
    from threads.staff import reset_thread

    say("Hola, me llamo Ana")
    old = repository.get_thread_id(PHONE)
    reset_thread(user_phone=PHONE)

    turn = say("¿Cómo me llamo?")

    assert turn.thread_id != old
    assert "Te llamas" not in outbox[-1].body
    assert not (fake_openai.calls("/conversations", "POST")[-1].body or {}).get("items")


def test_after_a_human_takeover_the_model_is_told_what_was_said(fake_openai, outbox):
    from threads.staff import send_staff_message, set_bot_paused

    say("hola")
    set_bot_paused(user_phones=[PHONE], paused=True)
    inbound("¿me atiende una persona?")
    process_user_messages(user_phone=PHONE)
    send_staff_message(
        user_phone=PHONE, text="Hola, soy Carla del equipo. El curso empieza el lunes.", staff_user_id=None
    )
    set_bot_paused(user_phones=[PHONE], paused=False)

    say("perfecto, ¿y cuánto cuesta?")

    sent = fake_openai.calls("/responses", "POST")[-1].body["input"]
    texts = [item["content"][0]["text"] if isinstance(item["content"], list) else item["content"] for item in sent]
    assert len(texts) == 2 and texts[1] == "perfecto, ¿y cuánto cuesta?"
    assert "Usuario: ¿me atiende una persona?" in texts[0]
    assert "Asesor: Hola, soy Carla del equipo. El curso empieza el lunes." in texts[0]
    say("gracias")  # the takeover is told once, not on every turn
    assert len(fake_openai.calls("/responses", "POST")[-1].body["input"]) == 1


def test_the_turn_records_every_request_sent_to_openai(fake_openai, outbox, demo_catalogue):
    new_user = say("Busco un curso de visión por computadora")  # create conversation + 2 responses
    returning = say("gracias")

    assert new_user.openai_calls == len(fake_openai.requests) - 1 == 3
    assert returning.openai_calls == 1


def test_a_hanging_openai_is_not_retried_past_the_turns_deadline(fake_openai, outbox, settings):
    say("hola")
    settings.OPENAI_MAX_RETRIES = 2
    settings.OPENAI_RUN_TIMEOUT_S = 0.4
    fake_openai.latency_s = 1.0
    fake_openai.reset_requests()

    turn = say("¿sigues ahí?")

    # The one request had the whole deadline; the SDK would have tried three times, 0.4 s each.
    assert turn.status == Turn.Status.FALLBACK and turn.error.startswith("RunTimeout")
    assert len(fake_openai.calls("/responses", "POST")) == 1


def test_a_transient_error_is_retried_within_the_deadline(fake_openai, outbox, settings):
    say("hola")
    settings.OPENAI_MAX_RETRIES = 2
    fake_openai.fail_next("/responses", 429, times=1)
    fake_openai.reset_requests()

    turn = say("¿sigues ahí?")

    assert turn.status == Turn.Status.COMPLETED and "«¿sigues ahí?»" in outbox[-1].body
    assert len(fake_openai.calls("/responses", "POST")) == 2 == turn.openai_calls


def test_a_404_about_something_else_does_not_replace_the_conversation(fake_openai, outbox):
    say("Hola, me llamo Ana")
    conversation = repository.get_thread_id(PHONE)
    fake_openai.fail_next("/responses", 404, times=1)  # e.g. a proxy without /responses, an unknown model

    turn = say("¿sigues ahí?")

    assert turn.status == Turn.Status.FALLBACK and "exists" in turn.error
    assert repository.get_thread_id(PHONE) == conversation
    assert len(fake_openai.calls("/conversations", "POST")) == 1  # no new conversation was made


def test_a_reply_that_formats_to_nothing_gets_the_fallback(fake_openai, outbox):
    fake_openai.script([message("---")])

    turn = say("hola")

    assert turn.status == Turn.Status.FALLBACK and len(outbox) == 1 and outbox[0].body.strip()


def test_a_pause_set_after_the_messages_were_read_holds_them(fake_openai, outbox):
    from threads.services import run_turn
    from threads.staff import set_bot_paused

    message = inbound("hola")
    set_bot_paused(user_phones=[PHONE], paused=True)  # staff pause after the worker read the flag as "not paused"

    assert run_turn(user_phone=PHONE, messages=[message], lease_token="t", bot_paused=False) is None

    assert process_user_messages(user_phone=PHONE) == 1
    assert outbox == [] and Message.objects.get(pk=message.pk).status == Message.Status.HELD
