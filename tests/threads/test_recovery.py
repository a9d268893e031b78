"""Crash safety: turns whose worker died are taken over, and every message is answered exactly once."""

import itertools
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from threads import message_log
from threads.locks import acquire_user_lease, is_user_lease_held, renew_user_lease
from threads.models import Contact, Message, Turn
from threads.recovery import recover_stale_work, recover_turn
from threads.services import process_user_messages

PHONE = "whatsapp:+5215533334444"
_sid = iter(range(10**6))


def inbound(text: str, phone: str = PHONE) -> Message:
    return message_log.record_inbound(user_phone=phone, twilio_sid=f"SMrc{next(_sid):030x}", body=text)[0]


def crashed_turn(*texts: str, seconds_ago: int = 5) -> Turn:
    """What a worker killed mid-turn leaves behind: a running turn holding an expired lease."""
    messages = [inbound(t) for t in texts]
    token = acquire_user_lease(PHONE, ttl_s=-seconds_ago)
    turn = Turn.objects.create(
        user_phone=PHONE,
        engine="responses",
        started_at=timezone.now() - timedelta(seconds=60 + seconds_ago),
        lease_token=token,
    )
    message_log.claim_for_turn(messages, turn)
    return turn


@pytest.mark.django_db
def test_turn_of_a_dead_worker_is_requeued_and_answered_once(fake_openai, outbox):
    dead = crashed_turn("hola", "me llamo Noa")

    report = recover_stale_work()

    assert report.turns_requeued == [dead.pk] and report.users_resumed == [PHONE]
    dead.refresh_from_db()
    assert dead.status == Turn.Status.ABANDONED and "re-queued" in dead.error
    (new,) = Turn.objects.exclude(pk=dead.pk)
    assert new.status == Turn.Status.COMPLETED and new.messages.filter(direction="in").count() == 2
    assert len(outbox) == 1 and "Te llamas Noa" in outbox[0].body
    assert not is_user_lease_held(PHONE)
    assert recover_stale_work().turns_requeued == []  # idempotent


@pytest.mark.django_db
def test_reply_written_before_the_crash_is_sent_not_regenerated(fake_openai, outbox):
    dead = crashed_turn("hola")
    message_log.record_outbound(user_phone=PHONE, body="Hola, soy Brenda.", origin="assistant", turn=dead)

    report = recover_turn(turn_id=dead.pk)

    assert report.turns_resent == [dead.pk]
    assert [m.body for m in outbox] == ["Hola, soy Brenda."]
    assert fake_openai.requests == []
    assert Turn.objects.get(pk=dead.pk).status == Turn.Status.COMPLETED


@pytest.mark.django_db
def test_live_turns_are_left_alone(fake_openai, outbox):
    turn = crashed_turn("hola")
    renew_user_lease(PHONE, turn.lease_token, ttl_s=60)  # its worker's heartbeat

    report = recover_turn(turn_id=turn.pk)

    assert report.turns_alive == [turn.pk] and report.turns_requeued == []
    assert Turn.objects.get(pk=turn.pk).status == Turn.Status.RUNNING and outbox == []


@pytest.mark.parametrize("age", ["-5", "inf", "nan", "1e12"])
def test_recover_turns_refuses_an_orphan_age_out_of_range(age):
    with pytest.raises(CommandError, match="--orphan-age must be between 0 and"):
        call_command("recover_turns", "--orphan-age", age)


@pytest.mark.django_db
def test_inbound_messages_no_task_took_are_answered_by_the_sweep(openai_off, outbox, demo_catalogue):
    msg = inbound("hola")
    Message.objects.filter(pk=msg.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    call_command("recover_turns", "--orphan-age", "60")

    assert len(outbox) == 1
    assert Message.objects.get(pk=msg.pk).turn is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_run_turns_of_one_user_at_the_same_time(fake_openai, outbox):
    fake_openai.latency_s = 0.05
    errors: list[BaseException] = []

    def worker(texts: list[str]) -> None:
        try:
            for text in texts:
                inbound(text)
                process_user_messages(user_phone=PHONE)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=([f"w{n} m{i}" for i in range(4)],)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    turns = list(Turn.objects.filter(user_phone=PHONE).order_by("started_at"))
    for earlier, later in itertools.pairwise(turns):
        assert earlier.finished_at <= later.started_at, "two turns of one user overlapped"
    inbound_rows = Message.objects.filter(direction="in")
    assert inbound_rows.count() == 12 and not inbound_rows.filter(turn=None).exists()
    assert len(outbox) == len(turns) and all(t.status == Turn.Status.COMPLETED for t in turns)
    assert Contact.objects.get(pk=PHONE).lock_token == ""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_slow_turn_keeps_its_lease_alive_and_is_not_taken_over(fake_openai, outbox, settings):
    settings.TURN_LEASE_S = 0.6  # renewed every 0.2 s
    settings.OPENAI_RUN_TIMEOUT_S = 10
    fake_openai.latency_s = 1.5  # the model takes longer than two leases
    inbound("hola")
    worker = threading.Thread(target=lambda: (process_user_messages(user_phone=PHONE), connection.close()))
    worker.start()
    time.sleep(1.0)

    report = recover_stale_work()  # what a recovery task or cron would do meanwhile

    worker.join(30)
    assert report.turns_requeued == [] and len(report.turns_alive) == 1
    assert len(outbox) == 1
    assert list(Turn.objects.values_list("status", flat=True)) == [Turn.Status.COMPLETED]


@pytest.mark.django_db
def test_a_part_the_dead_worker_was_sending_goes_out_on_recovery(fake_openai, outbox):
    dead = crashed_turn("hola")
    part = message_log.record_outbound(user_phone=PHONE, body="Hola, soy Brenda.", origin="assistant", turn=dead)
    assert message_log.claim_for_sending(part)  # the worker died in the middle of sending it

    report = recover_turn(turn_id=dead.pk)

    assert report.turns_resent == [dead.pk]
    assert [m.body for m in outbox] == ["Hola, soy Brenda."]
    part.refresh_from_db()
    assert part.status == "queued"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_notices_a_lease_taken_over():
    from threads.locks import LeaseKeeper

    inbound("hola")  # makes the contact
    token = acquire_user_lease(PHONE, ttl_s=5)
    with LeaseKeeper(PHONE, token, ttl_s=5, interval_s=0.05) as keeper:
        time.sleep(0.2)
        assert not keeper.lost
        Contact.objects.filter(pk=PHONE).update(lock_token="someone-else")  # recovery took it
        time.sleep(0.3)
        assert keeper.lost
