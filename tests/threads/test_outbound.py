"""Delivering replies through Twilio: parts in order, retries deferred to a task, permanent failures recorded."""

import json
from datetime import timedelta

import pytest
import responses as responses_lib
from django.tasks import default_task_backend
from django.utils import timezone

from threads import consent
from threads.models import Message
from threads.outbound import MAX_SEND_ATTEMPTS, deliver_reply, send_pending_outbound

PHONE = "whatsapp:+5215566667777"
SID = "AC" + "1" * 32
URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def window_open(user_wrote):
    """The user wrote a moment ago: free-form replies may go out (tests/threads/test_consent.py covers the rest)."""
    user_wrote(PHONE)


@pytest.fixture
def twilio(settings):
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = "token-outbound-test"
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()
    with responses_lib.RequestsMock() as mock:
        yield mock
    default_task_backend.clear()


def ok(sid: str) -> dict:
    return {"sid": sid, "status": "queued", "body": "", "to": PHONE}


def sent_bodies(mock) -> list[str]:
    from urllib.parse import parse_qs

    return [parse_qs(call.request.body)["Body"][0] for call in mock.calls if call.response.status_code == 201]


@pytest.mark.django_db(transaction=True)
def test_temporary_failure_keeps_the_reply_pending_and_schedules_a_retry(twilio):
    twilio.post(URL, status=503, json={"code": 20500, "message": "down", "status": 503})
    before = timezone.now()

    (row,) = deliver_reply(user_phone=PHONE, text="Hola", origin=Message.Origin.ASSISTANT)

    assert (row.status, row.send_attempts, row.error_code) == (Message.Status.PENDING, 1, "20500")
    (retry,) = default_task_backend.results
    assert retry.task.name == "send_pending_messages_task" and retry.args == [PHONE]
    assert retry.task.run_after >= before + timedelta(seconds=5)

    twilio.replace(responses_lib.POST, URL, status=201, json=ok("SM" + "a" * 32))
    assert send_pending_outbound(user_phone=PHONE) == 1
    row.refresh_from_db()
    assert (row.status, row.twilio_sid) == ("queued", "SM" + "a" * 32)


def test_later_parts_wait_for_an_earlier_part_that_failed(twilio):
    twilio.post(URL, status=500, json={"code": 20500, "message": "down", "status": 500})
    long_text = "\n\n".join(["Primera parte. " * 60, "Segunda parte. " * 60])

    rows = deliver_reply(user_phone=PHONE, text=long_text, origin=Message.Origin.ASSISTANT)

    assert len(rows) == 2 and all(r.status == Message.Status.PENDING for r in rows)
    assert all("Segunda" not in body for body in sent_bodies(twilio))

    twilio.remove(responses_lib.POST, URL)
    twilio.add(responses_lib.POST, URL, status=201, json=ok("SM" + "b" * 32))
    twilio.add(responses_lib.POST, URL, status=201, json=ok("SM" + "e" * 32))
    send_pending_outbound(user_phone=PHONE)
    assert [b.split()[0] for b in sent_bodies(twilio)] == ["Primera", "Segunda"]


def test_permanent_failure_is_recorded_and_the_next_part_still_goes(twilio):
    twilio.post(URL, status=400, json={"code": 21617, "message": "too long", "status": 400})
    twilio.post(URL, status=201, json=ok("SM" + "c" * 32))
    message_one = Message.objects.create(
        user_phone=PHONE, direction="out", origin="staff", body="uno", status="pending"
    )
    message_two = Message.objects.create(
        user_phone=PHONE, direction="out", origin="staff", body="dos", status="pending"
    )

    assert send_pending_outbound(user_phone=PHONE) == 1

    message_one.refresh_from_db()
    message_two.refresh_from_db()
    assert (message_one.status, message_one.error_code) == (Message.Status.FAILED, "21617")
    assert message_two.status == "queued"
    assert default_task_backend.results == []


def test_an_opt_out_recorded_while_a_backlog_goes_out_stops_the_rest_of_it(twilio):
    # Twilio accepts the first message; while it does, the user's "BAJA" is processed elsewhere.
    sids = iter("def")

    def accept_and_meanwhile_the_user_opts_out(request):
        consent.opt_out(PHONE, via="BAJA")
        return 201, {}, json.dumps(ok("SM" + next(sids) * 32))

    twilio.add_callback(responses_lib.POST, URL, callback=accept_and_meanwhile_the_user_opts_out)
    backlog = [
        Message.objects.create(user_phone=PHONE, direction="out", origin="staff", body=body, status="pending")
        for body in ("uno", "dos", "tres")
    ]

    assert send_pending_outbound(user_phone=PHONE) == 1

    assert sent_bodies(twilio) == ["uno"]
    for row in backlog:
        row.refresh_from_db()
    assert [(row.status, row.error_code) for row in backlog] == [
        ("queued", ""),
        (Message.Status.BLOCKED, "opted_out"),
        (Message.Status.BLOCKED, "opted_out"),
    ]


def test_a_message_that_keeps_failing_is_given_up_after_the_last_attempt(twilio):
    twilio.post(URL, status=503, json={"code": 20503, "message": "down", "status": 503})
    row = Message.objects.create(
        user_phone=PHONE,
        direction="out",
        origin="assistant",
        body="hola",
        status="pending",
        send_attempts=MAX_SEND_ATTEMPTS - 1,
    )

    send_pending_outbound(user_phone=PHONE)

    row.refresh_from_db()
    assert row.status == Message.Status.FAILED and row.send_attempts == MAX_SEND_ATTEMPTS


def test_a_message_another_sender_is_sending_is_not_sent_again(outbox):
    first = Message.objects.create(user_phone=PHONE, direction="out", origin="assistant", body="uno", status="pending")
    Message.objects.create(user_phone=PHONE, direction="out", origin="assistant", body="dos", status="pending")
    from threads import message_log

    assert message_log.claim_for_sending(first)  # a turn is sending it right now

    assert send_pending_outbound(user_phone=PHONE) == 0  # a retry task, a staff send or recovery meanwhile
    assert outbox == []

    message_log.mark_sent(first, sid="SMfirst", status="queued")  # the first sender goes on, in order
    assert send_pending_outbound(user_phone=PHONE) == 1
    assert [m.body for m in outbox] == ["dos"]


def test_a_new_reply_goes_out_after_an_older_message_still_waiting(outbox):
    Message.objects.create(user_phone=PHONE, direction="out", origin="staff", body="antes", status="pending")

    (row,) = deliver_reply(user_phone=PHONE, text="después", origin=Message.Origin.ASSISTANT)

    assert [m.body for m in outbox] == ["antes", "después"]
    stored = Message.objects.get(pk=row.pk)
    assert (row.status, row.twilio_sid, row.send_attempts) == (stored.status, stored.twilio_sid, 1)
    assert stored.status == "queued"


def test_a_new_reply_is_left_to_another_sender_at_work(outbox):
    from threads import message_log

    first = Message.objects.create(user_phone=PHONE, direction="out", origin="assistant", body="uno", status="pending")
    assert message_log.claim_for_sending(first)  # a staff message is being sent right now

    (row,) = deliver_reply(user_phone=PHONE, text="dos", origin=Message.Origin.ASSISTANT)

    assert outbox == [] and row.status == Message.Status.PENDING
    message_log.mark_sent(first, sid="SMfirst", status="queued")  # that sender goes on, in order
    assert send_pending_outbound(user_phone=PHONE) == 1
    assert [m.body for m in outbox] == ["dos"]


def test_a_message_left_sending_by_a_dead_sender_goes_out_after_the_sweep(outbox, openai_off):
    from threads import message_log
    from threads.recovery import recover_stale_work

    row = Message.objects.create(user_phone=PHONE, direction="out", origin="assistant", body="hola", status="pending")
    message_log.claim_for_sending(row)
    Message.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(minutes=5))

    recover_stale_work(orphan_age_s=60)

    assert [m.body for m in outbox] == ["hola"]
    row.refresh_from_db()
    assert row.status == "queued"
