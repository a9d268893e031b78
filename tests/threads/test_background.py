"""Background turns: OpenAI works in background mode and its webhook (or a deadline check) resumes the turn."""

import pytest

from tests.fakes.openai import failed, function_call, message
from threads import message_log
from threads.background import check_background_turn, handle_response_event
from threads.locks import is_user_lease_held
from threads.models import Message, Turn
from threads.services import process_user_messages

PHONE = "whatsapp:+5215511112222"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))


@pytest.fixture
def background(settings, fake_openai):
    settings.OPENAI_BACKGROUND = True
    return fake_openai


def inbound(text: str) -> Message:
    return message_log.record_inbound(user_phone=PHONE, twilio_sid=f"SMbg{next(_sid):030x}", body=text)[0]


def open_turn() -> Turn:
    return Turn.objects.get(user_phone=PHONE, status=Turn.Status.BACKGROUND)


def test_background_turn_with_a_tool_round_completes_through_webhook_events(background, outbox, demo_catalogue):
    inbound("Busco un curso de visión por computadora")
    process_user_messages(user_phone=PHONE)
    first = open_turn()
    assert outbox == [] and is_user_lease_held(PHONE)
    assert background.calls("/responses", "POST")[-1].body["background"] is True

    event = background.complete_background(first.response_id)  # the model asks for buscar_curso
    handle_response_event(event_type=event["type"], response_id=first.response_id)
    second = open_turn()
    assert second.pk == first.pk and second.response_id != first.response_id
    assert [c["name"] for c in second.tool_calls] == ["buscar_curso"]

    event = background.complete_background(second.response_id)
    turn = handle_response_event(event_type=event["type"], response_id=second.response_id)

    assert turn.status == Turn.Status.COMPLETED
    assert "Visión por computadora con Python" in outbox[-1].body
    assert not is_user_lease_held(PHONE)


def test_duplicate_or_late_events_do_not_answer_twice(background, outbox):
    inbound("hola")
    process_user_messages(user_phone=PHONE)
    turn = open_turn()
    event = background.complete_background(turn.response_id)

    handle_response_event(event_type=event["type"], response_id=turn.response_id)
    assert handle_response_event(event_type=event["type"], response_id=turn.response_id) is None

    assert len(outbox) == 1


def test_messages_during_a_background_turn_are_merged_into_the_next(background, outbox):
    inbound("hola")
    process_user_messages(user_phone=PHONE)
    first = open_turn()
    inbound("me llamo Sol")
    inbound("¿sigues ahí?")
    assert process_user_messages(user_phone=PHONE) == 0  # waits for the background turn

    event = background.complete_background(first.response_id)
    handle_response_event(event_type=event["type"], response_id=first.response_id)

    # The immediate task backend ran the next turn right away, with both waiting messages.
    second = open_turn()
    assert second.messages.filter(direction="in").count() == 2
    event = background.complete_background(second.response_id)
    handle_response_event(event_type=event["type"], response_id=second.response_id)
    assert len(outbox) == 2 and "Te llamas Sol" in outbox[-1].body


def test_failed_background_response_gets_a_fallback_reply(background, outbox):
    background.script([failed()])
    inbound("hola")
    process_user_messages(user_phone=PHONE)
    turn = open_turn()

    event = background.complete_background(turn.response_id)
    assert event["type"] == "response.failed"
    turn = handle_response_event(event_type=event["type"], response_id=turn.response_id)

    assert turn.status == Turn.Status.FALLBACK and "RunFailed" in turn.error
    assert len(outbox) == 1 and not is_user_lease_held(PHONE)


def test_lost_webhook_is_recovered_by_the_deadline_check(background, outbox):
    background.script([message("Hola desde segundo plano")])
    inbound("hola")
    process_user_messages(user_phone=PHONE)
    turn = open_turn()
    background.complete_background(turn.response_id)  # finished, but the webhook never arrives

    check_background_turn(turn_id=turn.pk, response_id=turn.response_id)

    assert [m.body for m in outbox] == ["Hola desde segundo plano"]
    assert Turn.objects.get(pk=turn.pk).status == Turn.Status.COMPLETED


def test_response_still_running_at_the_deadline_is_cancelled_and_answered_by_fallback(background, outbox):
    inbound("hola")
    process_user_messages(user_phone=PHONE)
    turn = open_turn()

    check_background_turn(turn_id=turn.pk, response_id=turn.response_id)

    turn.refresh_from_db()
    assert turn.status == Turn.Status.FALLBACK and "deadline" in turn.error
    assert background.calls(f"/responses/{turn.response_id}/cancel", "POST")
    assert len(outbox) == 1 and not is_user_lease_held(PHONE)


def test_start_failure_falls_back_at_once(background, outbox):
    background.fail_next("/responses", 500, times=3)
    inbound("hola")

    process_user_messages(user_phone=PHONE)

    turn = Turn.objects.get(user_phone=PHONE)
    assert turn.status == Turn.Status.FALLBACK and len(outbox) == 1
    assert not is_user_lease_held(PHONE)


def test_endless_background_tool_rounds_are_bounded(background, outbox, settings, demo_catalogue):
    settings.OPENAI_MAX_TOOL_ROUNDS = 2
    background.script([function_call("buscar_curso", {"name": "python"})] * 6)
    inbound("hola")
    process_user_messages(user_phone=PHONE)

    for _ in range(4):
        turn = Turn.objects.get(user_phone=PHONE)
        if turn.status != Turn.Status.BACKGROUND:
            break
        event = background.complete_background(turn.response_id)
        handle_response_event(event_type=event["type"], response_id=turn.response_id)

    turn.refresh_from_db()
    assert turn.status == Turn.Status.FALLBACK and "ToolRounds" in turn.error
    assert len(outbox) == 1


def test_an_event_that_overtakes_the_saved_response_id_is_looked_at_again(background, settings):
    from django.tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()

    assert handle_response_event(event_type="response.completed", response_id="resp_not_saved_yet") is None

    (retry,) = default_task_backend.results
    assert retry.task.name == "handle_openai_response_task"
    assert retry.args == ["response.completed", "resp_not_saved_yet", 2]
    default_task_backend.clear()
    assert handle_response_event(event_type="response.completed", response_id="resp_x", attempt=3) is None
    assert default_task_backend.results == []  # bounded
