"""Daily limits: past one, the rule-based responder answers politely and the model is never called."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from threads import message_log
from threads.budgets import check_budget, get_user_spend, lift_user_limits
from threads.models import Contact, Message, Turn
from threads.services import process_user_messages

PHONE = "whatsapp:+5215544445555"
OTHER = "whatsapp:+5215544446666"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))


def say(text: str, phone: str = PHONE) -> Turn:
    message_log.record_inbound(user_phone=phone, twilio_sid=f"SMb{next(_sid):031x}", body=text)
    process_user_messages(user_phone=phone)
    return Turn.objects.filter(user_phone=phone).latest("pk")


def past_turn(phone: str, *, cost: str | None, hours_ago: float = 1, model: str = "gpt-6-luna") -> Turn:
    turn = Turn.objects.create(
        user_phone=phone, model=model, status=Turn.Status.COMPLETED, cost_usd=None if cost is None else Decimal(cost)
    )
    Turn.objects.filter(pk=turn.pk).update(started_at=timezone.now() - timedelta(hours=hours_ago))
    return turn


def responses_requests(fake) -> int:
    return len(fake.calls("/responses", "POST"))


def test_the_turn_after_the_user_limit_is_answered_without_the_model(settings, fake_openai, outbox, demo_catalogue):
    settings.USER_DAILY_TURN_LIMIT = 2
    say("hola")
    say("¿sigues ahí?")
    before = responses_requests(fake_openai)

    turn = say("¿qué cursos tienen para principiantes?")

    assert responses_requests(fake_openai) == before  # no model call
    assert turn.status == Turn.Status.FALLBACK and turn.limited and turn.fallback_reason == "limit_user_turns"
    assert turn.model == "" and turn.cost_usd is None
    reply = outbox[-1].body
    assert reply.startswith("Por hoy ya no puedo darte respuestas detalladas")
    assert "Introducción a la Inteligencia Artificial" in reply  # the catalogue still answers
    assert Message.objects.filter(direction="out", turn=turn, origin="fallback").exists()


def test_a_limited_turn_stays_out_of_the_users_conversation(settings, fake_openai, outbox):
    say("hola")  # the user has a conversation
    settings.USER_DAILY_TURN_LIMIT = 1

    turn = say("¿sigues ahí?")

    assert turn.limited and turn.thread_id == ""
    assert set(turn.messages.values_list("thread_id", flat=True)) == {""}


def test_limited_turns_do_not_count_against_the_limit_nor_others(settings, fake_openai, outbox):
    settings.USER_DAILY_TURN_LIMIT = 1
    say("hola")
    say("otra vez")  # limited
    say("y otra")  # still limited, but the count stays at the one model turn

    assert get_user_spend(user_phone=PHONE).turns == 1
    assert say("hola", phone=OTHER).fallback_reason == ""  # another user is not limited


def test_turns_older_than_24_hours_no_longer_count(settings, db):
    settings.USER_DAILY_TURN_LIMIT = 1
    past_turn(PHONE, cost="0.01", hours_ago=25)
    assert check_budget(user_phone=PHONE) is None
    past_turn(PHONE, cost="0.01", hours_ago=23)
    assert check_budget(user_phone=PHONE).reason == "limit_user_turns"


def test_user_cost_limit(settings, db):
    settings.USER_DAILY_COST_LIMIT_USD = Decimal("0.05")
    past_turn(PHONE, cost="0.03")
    past_turn(PHONE, cost=None)  # unknown cost adds nothing
    assert check_budget(user_phone=PHONE) is None
    past_turn(PHONE, cost="0.02")
    exceeded = check_budget(user_phone=PHONE)
    assert exceeded.reason == "limit_user_cost" and "0.0500" in exceeded.detail


def test_deployment_cost_limit_stops_every_user(settings, fake_openai, outbox):
    settings.DAILY_COST_LIMIT_USD = Decimal("1")
    past_turn(OTHER, cost="0.60")
    past_turn("whatsapp:+5215544447777", cost="0.40")

    turn = say("hola")

    assert turn.fallback_reason == "limit_daily_cost"
    assert responses_requests(fake_openai) == 0


def test_staff_lift_starts_the_users_count_afresh(settings, fake_openai, outbox):
    settings.USER_DAILY_TURN_LIMIT = 1
    say("hola")
    assert say("otra").limited

    assert lift_user_limits(user_phone=PHONE)

    assert Contact.objects.get(pk=PHONE).limits_reset_at is not None
    turn = say("¿sigues ahí?")
    assert not turn.limited and turn.status == Turn.Status.COMPLETED
    assert say("y ahora").limited  # the limit applies again from the lift on
    assert not lift_user_limits(user_phone="whatsapp:+5215500000000")  # unknown contact


def test_unset_limits_never_stop_anyone(settings, db):
    settings.USER_DAILY_TURN_LIMIT = None
    settings.USER_DAILY_COST_LIMIT_USD = None
    settings.DAILY_COST_LIMIT_USD = None
    for _ in range(5):
        past_turn(PHONE, cost="100")
    assert check_budget(user_phone=PHONE) is None


def test_limits_hold_in_background_mode(settings, fake_openai, outbox):
    settings.OPENAI_BACKGROUND = True
    settings.USER_DAILY_TURN_LIMIT = 1
    past_turn(PHONE, cost="0.001")

    turn = say("hola")

    assert turn.limited and turn.status == Turn.Status.FALLBACK
    assert responses_requests(fake_openai) == 0 and len(outbox) == 1


def test_limits_hold_in_the_chat_command(settings, fake_openai, capsys):
    settings.USER_DAILY_TURN_LIMIT = 1
    past_turn(PHONE, cost="0.001")

    call_command("chat", phone=PHONE, stdin=_Lines("hola\n"))

    assert Turn.objects.filter(user_phone=PHONE).latest("pk").limited
    assert responses_requests(fake_openai) == 0


class _Lines:
    def __init__(self, text: str) -> None:
        self._lines = iter(text.splitlines(keepends=True))

    def readline(self) -> str:
        return next(self._lines, "")

    def isatty(self) -> bool:
        return False
