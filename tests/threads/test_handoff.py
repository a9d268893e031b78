"""A user asks for a person: the model's tool and the rule-based path pause the bot, e-mail staff and say when.

The fake OpenAI scripts the tool call; e-mail goes to Django's locmem backend (`mailoutbox`);
business hours are placed around the real clock so "inside" and "outside" are certain.
"""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.fakes.openai import function_call, message
from threads import handoff, handoff_requests, message_log, staff
from threads.business_hours import SPANISH_DAYS
from threads.models import Contact, Handoff, Message, Turn
from threads.services import process_user_messages

PHONE = "whatsapp:+5215511112222"
MX = ZoneInfo("America/Mexico_City")
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def say(text: str, phone: str = PHONE) -> Turn | None:
    message_log.record_inbound(user_phone=phone, twilio_sid=f"SM{next(_sid):032x}", body=text, profile_name="Ana")
    process_user_messages(user_phone=phone)
    return Turn.objects.filter(user_phone=phone).order_by("pk").last()


@pytest.fixture
def staff_email(settings, mailoutbox):
    settings.STAFF_NOTIFY_EMAILS = ["ventas@example.com", "carla@example.com"]
    settings.TIME_ZONE = "America/Mexico_City"
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"
    return mailoutbox


@pytest.fixture
def open_now(settings):
    settings.BUSINESS_HOURS = "mon-sun 00:00-24:00"


@pytest.fixture
def closed_until_day_after_tomorrow(settings):
    """Open only at 03:00-03:01 the day after tomorrow (Mexico City): closed now, opening known."""
    day = (timezone.now().astimezone(MX) + timedelta(days=2)).weekday()
    settings.BUSINESS_HOURS = f"{DAY_KEYS[day]} 03:00-03:01"
    return SPANISH_DAYS[day]


def test_the_rule_based_path_pauses_emails_staff_and_says_soon_inside_hours(openai_off, outbox, staff_email, open_now):
    turn = say("Hola, quiero hablar con una persona por favor")

    contact = Contact.objects.get(pk=PHONE)
    assert contact.bot_paused and contact.waiting_since is not None
    assert contact.waiting_message == Message.objects.get(direction="in")
    assert "hablar con una persona" in contact.waiting_reason
    assert [m.body for m in outbox] == [
        "¡Claro! Ya avisé a nuestro equipo y una persona te responderá por este chat en breve. "
        "Mientras tanto puedes dejarme aquí los detalles."
    ]
    assert turn.status == Turn.Status.FALLBACK
    record = Handoff.objects.get()
    assert (record.via, record.notified_at is not None, record.closed_at) == ("rules", True, None)
    [mail] = staff_email
    assert mail.to == ["ventas@example.com", "carla@example.com"]
    assert "Ana" in mail.subject and "+5215511112222" in mail.subject
    assert "quiero hablar con una persona" in mail.body
    assert "https://brenda.example.com/admin/inbox/whatsapp:+5215511112222/" in mail.body


def test_outside_hours_the_user_is_told_the_next_opening(openai_off, outbox, staff_email, settings):
    day = (timezone.now().astimezone(MX) + timedelta(days=1)).weekday()
    settings.BUSINESS_HOURS = f"{DAY_KEYS[day]} 09:00-09:01"

    say("me pueden llamar?")

    assert "ahora estamos fuera de horario" in outbox[0].body
    assert "mañana a las 9:00" in outbox[0].body
    assert Contact.objects.get(pk=PHONE).bot_paused


def test_the_model_tool_pauses_emails_staff_and_tells_the_time(
    fake_openai, outbox, staff_email, closed_until_day_after_tomorrow
):
    fake_openai.script(
        [
            function_call("solicitar_asesor", {"motivo": "problema con un pago"}),
            message("Listo, un asesor te escribirá pronto."),
        ]
    )

    turn = say("Me cobraron dos veces el curso")

    assert turn.tool_names == ["solicitar_asesor"] and turn.status == Turn.Status.COMPLETED
    contact = Contact.objects.get(pk=PHONE)
    assert contact.bot_paused and contact.waiting_reason == "problema con un pago"
    assert contact.waiting_message.body == "Me cobraron dos veces el curso"
    [mail] = staff_email
    assert "problema con un pago" in mail.body and "Me cobraron dos veces" in mail.body
    sent = fake_openai.calls("/responses", "POST")[-1].body["input"]
    output = json.loads(next(i for i in sent if i.get("type") == "function_call_output")["output"])
    assert output["registrado"] is True and output["equipo_disponible_ahora"] is False
    assert f"el {closed_until_day_after_tomorrow} a las 3:00" in output["respuesta_sugerida"]
    # The next message waits for staff: held, not answered by the bot.
    sent_before = len(outbox)
    say("¿Hola?")
    assert len(outbox) == sent_before and Message.objects.filter(status="held").count() == 1


def test_a_second_request_while_waiting_keeps_the_first_and_emails_once(openai_off, outbox, staff_email, open_now):
    say("quiero hablar con un asesor")
    first = Contact.objects.get(pk=PHONE).waiting_since
    staff.set_bot_paused(user_phones=[PHONE], paused=False)  # resumed: the handoff is closed
    assert Contact.objects.get(pk=PHONE).waiting_since is None

    handoff_requests.request_handoff(user_phone=PHONE, reason="otra vez", via="rules")
    again = handoff_requests.request_handoff(user_phone=PHONE, reason="y otra", via="rules")

    assert Handoff.objects.count() == 2 and again.reason == "otra vez"
    assert Contact.objects.get(pk=PHONE).waiting_since > first
    assert len(staff_email) == 2


def test_a_failed_email_never_breaks_the_turn(openai_off, outbox, settings, open_now, caplog):
    settings.STAFF_NOTIFY_EMAILS = ["ventas@example.com"]
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 1, "timeout": 2},
        }
    }

    say("quiero hablar con una persona")

    assert len(outbox) == 1 and Contact.objects.get(pk=PHONE).bot_paused
    record = Handoff.objects.get()
    assert record.notified_at is None and "ConnectionRefusedError" in record.notify_error
    assert "the staff e-mail failed" in caplog.text


def test_replay_runs_the_tool_without_any_side_effect(fake_openai, staff_email, open_now, tmp_path):
    from django.core.management import call_command

    fake_openai.script([function_call("solicitar_asesor", {"motivo": "queja"}), message("Te paso con alguien.")])
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "c1", "messages": ["quiero quejarme"]}) + "\n", encoding="utf-8")

    call_command("replay", "--file", str(path), "--json")

    assert not Contact.objects.filter(bot_paused=True).exists()
    assert Handoff.objects.count() == 0 and staff_email == []
    sent = fake_openai.calls("/responses", "POST")[-1].body["input"]
    assert any(i.get("type") == "function_call_output" for i in sent)  # the tool did run


class TestClosing:
    @pytest.fixture
    def waiting(self, openai_off, outbox, staff_email, open_now, django_user_model):
        say("quiero hablar con una persona")
        return django_user_model.objects.create_user("carla", password="x-long-password-1")

    def test_a_staff_reply_ends_the_wait_and_records_the_reply_time(self, waiting, outbox):
        staff.send_staff_message(user_phone=PHONE, text="Hola Ana, soy Carla.", staff_user_id=waiting.pk)

        contact = Contact.objects.get(pk=PHONE)
        assert contact.waiting_since is None and contact.bot_paused  # staff keep the conversation
        record = Handoff.objects.get()
        assert record.outcome == "replied" and record.first_staff_reply_at is not None

    def test_resolve_clears_the_wait_but_keeps_the_bot_paused(self, waiting):
        assert handoff.resolve(user_phone=PHONE, staff_user_id=waiting.pk)

        contact = Contact.objects.get(pk=PHONE)
        assert contact.waiting_since is None and contact.bot_paused
        assert Handoff.objects.get().outcome == "resolved" and Handoff.objects.get().closed_by == waiting
        assert not handoff.resolve(user_phone=PHONE)  # nothing open any more

    def test_resume_hands_back_to_the_bot_with_the_takeover_context(self, waiting, outbox, settings, fake_openai):
        staff.send_staff_message(user_phone=PHONE, text="Te llamo en 5 minutos.", staff_user_id=waiting.pk)
        assert handoff.resume_bot(user_phone=PHONE, staff_user_id=waiting.pk)
        assert not Contact.objects.get(pk=PHONE).bot_paused

        say("Gracias, ya quedó")

        sent = fake_openai.calls("/responses", "POST")[-1].body["input"]
        texts = json.dumps(sent, ensure_ascii=False)
        assert "un asesor humano atendió al usuario" in texts and "Te llamo en 5 minutos." in texts


class TestTimeout:
    @pytest.fixture
    def waiting(self, openai_off, outbox, staff_email, open_now, settings):
        settings.HANDOFF_TIMEOUT_MIN = 30
        say("quiero hablar con una persona")
        assert len(outbox) == 1  # the reply to the request; what follows is the timeout's
        return Handoff.objects.get()

    def test_nothing_happens_before_the_business_time_is_up(self, waiting, outbox):
        assert handoff.check_timeout(handoff_id=waiting.pk, now=waiting.requested_at + timedelta(minutes=29)) == ""
        assert len(outbox) == 1

    def test_one_note_when_nobody_answered(self, waiting, outbox):
        later = waiting.requested_at + timedelta(minutes=31)

        assert handoff.check_timeout(handoff_id=waiting.pk, now=later) == "note"
        assert handoff.check_timeout(handoff_id=waiting.pk, now=later) == ""

        assert [m.body for m in outbox[1:]] == [handoff.STILL_ON_IT_NOTE["es"]]
        assert Message.objects.get(body=handoff.STILL_ON_IT_NOTE["es"]).origin == "system"
        assert Contact.objects.get(pk=PHONE).bot_paused  # still waiting for staff

    def test_or_the_bot_resumes_when_configured(self, waiting, outbox, settings):
        settings.HANDOFF_TIMEOUT_ACTION = "resume"

        assert handoff.check_timeout(handoff_id=waiting.pk, now=waiting.requested_at + timedelta(minutes=31)) == (
            "resumed"
        )

        contact = Contact.objects.get(pk=PHONE)
        assert not contact.bot_paused and contact.waiting_since is None
        assert Handoff.objects.get().outcome == "timed_out" and len(outbox) == 1

    def test_a_staff_reply_in_time_cancels_the_note(self, waiting, outbox, django_user_model):
        user = django_user_model.objects.create_user("carla2", password="x-long-password-1")
        staff.send_staff_message(user_phone=PHONE, text="Aquí estoy", staff_user_id=user.pk)

        assert handoff.check_timeout(handoff_id=waiting.pk, now=waiting.requested_at + timedelta(hours=2)) == ""
        assert [m.body for m in outbox[1:]] == ["Aquí estoy"]

    def test_the_timeout_counts_business_time_only(self, settings):
        settings.BUSINESS_HOURS = "mon-fri 09:00-18:00"
        settings.TIME_ZONE = "America/Mexico_City"
        friday_evening = datetime(2026, 12, 11, 17, 50, tzinfo=MX)
        record = Handoff(user_phone=PHONE, via="rules", requested_at=friday_evening)

        assert handoff_requests.timeout_due_at(record) == datetime(2026, 12, 14, 9, 20, tzinfo=MX)


def test_the_stats_count_handoffs_per_day_reply_times_and_open_ones(admin_client):
    from threads.stats import get_handoff_stats

    now = timezone.now()
    for minutes in (4, 10, 60):
        Handoff.objects.create(
            user_phone=PHONE, via="rules", requested_at=now, first_staff_reply_at=now + timedelta(minutes=minutes)
        )
    Handoff.objects.create(user_phone=PHONE, via="tool", requested_at=now)
    Contact.objects.create(user_phone=PHONE, waiting_since=now)

    figures = get_handoff_stats(days=7)

    assert (figures.requested, figures.replied, figures.open_now) == (4, 3, 1)
    assert (figures.first_reply_p50_s, figures.first_reply_p95_s) == (600, 3600)
    assert figures.per_day[-1] == (timezone.localdate(), 4)
    page = admin_client.get("/admin/threads/stats/").content.decode()
    assert 'id="stat-first-reply-p50">10 min<' in page and 'id="stat-first-reply-p95">1 h 00 min<' in page
    assert 'id="stat-handoffs-open">1<' in page


class TestTimeoutWithoutItsTask:
    """The recovery sweep fires a timeout whose task never ran (immediate backend, lost worker), exactly once."""

    DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}

    @pytest.fixture
    def asked(self, openai_off, outbox, staff_email, open_now, settings):
        settings.HANDOFF_TIMEOUT_MIN = 30
        say("quiero hablar con una persona")
        assert [m.body for m in outbox][-1].startswith("¡Claro!")
        return Handoff.objects.get()

    @staticmethod
    def age(record: Handoff, minutes: float) -> None:
        """Move the request `minutes` into the past, as if the user had asked then."""
        then = timezone.now() - timedelta(minutes=minutes)
        Handoff.objects.filter(pk=record.pk).update(requested_at=then)
        Contact.objects.filter(pk=record.user_phone).update(waiting_since=then)

    @staticmethod
    def run_timeout_task() -> str:
        """What a `db_worker` does with the queued timeout task (run now, even if due later)."""
        from django_tasks_db.management.commands.db_worker import Worker
        from django_tasks_db.models import DBTaskResult

        from threads.tasks import handoff_timeout_task

        row = DBTaskResult.objects.get(task_path=handoff_timeout_task.module_path, status="READY")
        row.claim("test-worker")
        Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="test-worker",
            excluded_queue_names=[],
        ).run_task(row)
        row.refresh_from_db()
        return row.return_value

    def notes(self) -> list[Message]:
        return list(Message.objects.filter(body=handoff.STILL_ON_IT_NOTE["es"]))

    def test_with_the_immediate_backend_the_recover_turns_command_sends_the_note_once(self, asked, outbox, capsys):
        from django.core.management import call_command

        call_command("recover_turns")
        assert self.notes() == []  # not due yet
        self.age(asked, 31)

        call_command("recover_turns")
        call_command("recover_turns")

        assert [m.body for m in outbox[1:]] == [handoff.STILL_ON_IT_NOTE["es"]]
        assert "handoff timeouts: 1" in capsys.readouterr().out
        assert Handoff.objects.get().note_sent_at is not None and Contact.objects.get(pk=PHONE).bot_paused

    def test_the_sweep_counts_business_time_not_wall_time(self, asked, outbox, settings):
        self.age(asked, 31)
        day = (timezone.now().astimezone(MX) + timedelta(days=2)).weekday()
        settings.BUSINESS_HOURS = f"{DAY_KEYS[day]} 03:00-03:01"  # closed since the request: not due

        from threads import recovery

        assert recovery.recover_stale_work().handoffs_timed_out == []
        assert self.notes() == []

    def test_nothing_once_staff_replied(self, asked, outbox, django_user_model):
        from threads import recovery

        user = django_user_model.objects.create_user("carla3", password="x-long-password-1")
        staff.send_staff_message(user_phone=PHONE, text="Hola, aquí Carla", staff_user_id=user.pk)
        self.age(asked, 31)

        assert recovery.recover_stale_work().handoffs_timed_out == []
        assert self.notes() == []

    def test_the_sweep_resumes_the_bot_once_when_configured(self, asked, outbox, settings):
        from threads import recovery

        settings.HANDOFF_TIMEOUT_ACTION = "resume"
        self.age(asked, 31)

        assert recovery.recover_stale_work().handoffs_timed_out == [asked.pk]
        assert recovery.recover_stale_work().handoffs_timed_out == []

        contact = Contact.objects.get(pk=PHONE)
        assert not contact.bot_paused and contact.waiting_since is None
        assert Handoff.objects.get().outcome == "timed_out" and len(outbox) == 1

    @pytest.mark.parametrize("first", ["task", "sweep"])
    def test_with_the_database_backend_the_task_and_the_sweep_send_one_note(
        self, first, settings, openai_off, outbox, staff_email, open_now
    ):
        from threads import recovery

        settings.TASKS = self.DATABASE_TASKS
        settings.HANDOFF_TIMEOUT_MIN = 30
        say("quiero hablar con una persona")
        record = Handoff.objects.get()
        self.age(record, 31)

        if first == "task":
            assert self.run_timeout_task() == "note"
            assert recovery.recover_stale_work().handoffs_timed_out == []
        else:
            assert recovery.recover_stale_work().handoffs_timed_out == [record.pk]
            assert self.run_timeout_task() == ""

        assert len(self.notes()) == 1
        assert [m.body for m in outbox].count(handoff.STILL_ON_IT_NOTE["es"]) == 1
