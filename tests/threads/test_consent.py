"""WhatsApp's rules: opt-out and opt-in keywords, the 24-hour window, and the one outbound door that enforces both."""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode

import pytest
import responses as responses_lib
from django.utils import timezone

from tests.webhooks.conftest import TWILIO_TOKEN, inbound_params, twilio_signature
from threads import consent, message_log, recovery
from threads.consent import OPTED_IN_TEXT, OPTED_OUT_TEXT, Keyword, keyword_of
from threads.models import ConsentEvent, Contact, Message, MessageTemplate, Turn
from threads.outbound import deliver_reply, send_pending_outbound
from threads.staff import send_staff_message
from threads.stats import get_dashboard_stats

PHONE = "whatsapp:+5215512345678"
CONTENT_SID = "HX" + "b" * 32


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("ana", is_staff=True)


@pytest.mark.parametrize(
    "text",
    ["BAJA", "baja", "Baja.", "stop!!", "STOP", "  Stop  ", "ALTO", "Detener", "cancelar", "UNSUBSCRIBE",
     "NO MÁS MENSAJES", "no mas mensajes", "¡Baja!", "Dame de baja", "BAJA 🙏",
     # styled capitals from "fancy text" keyboards, full width, invisible characters inside the word
     "𝐒𝐓𝐎𝐏", "𝕊𝕋𝕆ℙ", "🅂🅃🄾🄿", "𝘉𝘈𝘑𝘈", "ＳＴＯＰ", "S\u200dTOP", "BA\u00adJA", "\u200bBAJA\u200b",
     # courtesy around the keyword
     "baja por favor", "BAJA porfa", "STOP please", "gracias, baja", "Ya, baja. Gracias"],
)  # fmt: skip
def test_opt_out_keywords_in_many_spellings(text):
    assert keyword_of(text) is Keyword.OPT_OUT


@pytest.mark.parametrize(
    "text", ["ALTA", "alta", "Start", "REANUDAR", "suscribir", "Alta!", "dame de alta", "alta por favor", "ALTA porfa"]
)
def test_opt_in_keywords(text):
    assert keyword_of(text) is Keyword.OPT_IN


@pytest.mark.parametrize(
    "text",
    ["¿cómo me doy de baja del curso?", "no quiero parar de aprender", "stop motion con IA", "baja el precio?",
     "", "   ", "?!", "quiero darme de alta en el curso", "Hola", "por favor", "gracias", "ok gracias"],
)  # fmt: skip
def test_a_keyword_inside_a_sentence_is_just_a_message(text):
    assert keyword_of(text) is None


# --- the whole cycle through the signed webhook -------------------------------------------------


@pytest.fixture
def signed_post(client, settings, openai_off):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_VALIDATE_SIGNATURE = True
    settings.PUBLIC_BASE_URL = ""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    sent = {"n": 0}

    def post(body: str):
        sent["n"] += 1
        params = inbound_params(Body=body, MessageSid="SM" + f"{sent['n']:032x}")
        response = client.post(
            "/webhooks/twilio",
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=twilio_signature("http://testserver/webhooks/twilio", params),
        )
        assert response.status_code == 200
        return response

    return post


def a_day_passes() -> None:
    """Move the contact's clock a day and an hour back: what a fixed clock a day later would see."""
    shift = timedelta(hours=25)
    contact = Contact.objects.get(pk=PHONE)
    for name in ("opted_out_at", "optout_notice_at", "last_inbound_at"):
        if getattr(contact, name):
            setattr(contact, name, getattr(contact, name) - shift)
    contact.save()


@pytest.mark.django_db(transaction=True)
def test_opt_out_then_silence_then_one_reminder_a_day_then_opt_in(signed_post, outbox, demo_catalogue):
    signed_post("Hola")
    assert len(outbox) == 1  # the responder greets

    signed_post("BAJA")
    assert len(outbox) == 2
    assert "ALTA" in outbox[-1].body and "ya no te enviaremos" in outbox[-1].body
    contact = Contact.objects.get(pk=PHONE)
    assert contact.opted_out_at is not None and contact.opted_out_via == "keyword BAJA"

    signed_post("¿Qué cursos tienen?")
    signed_post("hola??")
    assert len(outbox) == 2  # silence: the confirmation was today's notice
    assert Message.objects.filter(direction="in").count() == 4  # stored all the same, for staff

    a_day_passes()
    signed_post("¿sigues ahí?")
    signed_post("hola")
    assert len(outbox) == 3  # one reminder a day
    assert "desactivados" in outbox[-1].body and "ALTA" in outbox[-1].body

    signed_post("Alta.")
    assert len(outbox) == 4 and outbox[-1].body == OPTED_IN_TEXT["es"]
    assert Contact.objects.get(pk=PHONE).opted_out_at is None

    signed_post("¿Qué cursos tienen?")
    assert len(outbox) == 5 and "curso" in outbox[-1].body.lower()
    assert list(ConsentEvent.objects.order_by("id").values_list("kind", flat=True)) == ["opt_out", "opt_in"]
    notices = list(Message.objects.exclude(notice="").order_by("id").values_list("notice", flat=True))
    assert notices == ["opted_out", "optout_reminder", "opted_in"]
    assert Turn.objects.filter(status=Turn.Status.OPTED_OUT).count() == 5  # BAJA, two silences, reminder, silence


@pytest.mark.django_db(transaction=True)
def test_english_keyword_gets_an_english_confirmation(signed_post, outbox):
    signed_post("STOP")
    assert "START" in outbox[-1].body and "won't" in outbox[-1].body


@pytest.mark.django_db(transaction=True)
def test_stop_in_a_spanish_conversation_is_confirmed_in_spanish(signed_post, outbox, demo_catalogue):
    signed_post("Hola, ¿qué cursos de IA tienen?")
    signed_post("stop")
    assert outbox[-1].body == OPTED_OUT_TEXT["es"]

    signed_post("alta por favor")  # courtesy around the keyword: still the keyword
    assert Contact.objects.get(pk=PHONE).opted_out_at is None
    assert outbox[-1].body == OPTED_IN_TEXT["es"]


@pytest.mark.django_db(transaction=True)
def test_a_sentence_about_cancelling_is_answered_not_an_opt_out(signed_post, outbox, demo_catalogue):
    signed_post("¿cómo me doy de baja del curso?")
    assert Contact.objects.get(pk=PHONE).opted_out_at is None
    assert len(outbox) == 1 and "ALTA" not in outbox[-1].body


@pytest.mark.django_db(transaction=True)
def test_opt_out_beats_a_staff_takeover(signed_post, outbox):
    signed_post("Hola")
    Contact.objects.filter(pk=PHONE).update(bot_paused=True)
    signed_post("hola, ¿hay alguien?")
    assert len(outbox) == 1  # held for staff

    signed_post("baja")
    assert Contact.objects.get(pk=PHONE).opted_out_at is not None
    assert len(outbox) == 2 and "ALTA" in outbox[-1].body
    held = Message.objects.get(body="hola, ¿hay alguien?")
    assert held.status == Message.Status.HELD


@pytest.mark.django_db(transaction=True)
def test_the_model_never_sees_an_opt_out(signed_post, settings, fake_openai, outbox):
    settings.OPENAI_API_KEY = "sk-test"  # undo openai_off: the model would answer anything else
    signed_post("STOP")
    assert fake_openai.calls("/responses") == []
    assert Contact.objects.get(pk=PHONE).opted_out_at is not None


# --- the door: nothing reaches an opted-out user, by any path --------------------------------


@pytest.fixture
def opted_out_user(db):
    now = timezone.now()
    Contact.objects.create(user_phone=PHONE, last_inbound_at=now, opted_out_at=now, opted_out_via="keyword BAJA")


@pytest.fixture
def template(db):
    return MessageTemplate.objects.create(
        name="seguimiento",
        content_sid=CONTENT_SID,
        body="Hola {{1}}, ¿te ayudo con {{2}}?",
        variables="1: name\n2: course",
    )


def test_a_bot_reply_to_an_opted_out_user_is_blocked_and_stored(opted_out_user, outbox):
    (row,) = deliver_reply(user_phone=PHONE, text="Te recomiendo IA para todos", origin=Message.Origin.ASSISTANT)

    assert outbox == []
    assert (row.status, row.error_code) == (Message.Status.BLOCKED, "opted_out")
    assert "opted out" in message_log.status_explanation(row)


def test_a_staff_message_to_an_opted_out_user_is_blocked(opted_out_user, outbox, staff_user):
    (row,) = send_staff_message(user_phone=PHONE, text="Hola Ana", staff_user_id=staff_user.pk)
    assert outbox == [] and row.status == Message.Status.BLOCKED


def test_a_template_to_an_opted_out_user_is_refused_and_nothing_is_stored(opted_out_user, outbox, template):
    from threads.message_templates import TemplateError, send_template

    with pytest.raises(TemplateError, match="opted out"):
        send_template(user_phone=PHONE, name="seguimiento", variables={"1": "Ana", "2": "Python"})
    assert outbox == [] and not Message.objects.exists()


def test_a_retry_after_the_user_opted_out_is_blocked(outbox, user_wrote):
    user_wrote(PHONE)
    row = Message.objects.create(user_phone=PHONE, direction="out", origin="assistant", body="uno", status="pending")
    consent.opt_out(PHONE, via="keyword BAJA")

    assert send_pending_outbound(user_phone=PHONE) == 0
    row.refresh_from_db()
    assert outbox == [] and row.status == Message.Status.BLOCKED


def test_recovery_does_not_send_what_waits_for_an_opted_out_user(outbox, user_wrote):
    user_wrote(PHONE)
    row = Message.objects.create(user_phone=PHONE, direction="out", origin="assistant", body="uno", status="pending")
    Message.objects.filter(pk=row.pk).update(updated_at=timezone.now() - timedelta(minutes=30), send_attempts=1)
    consent.opt_out(PHONE, via="keyword STOP")

    recovery.sweep()

    row.refresh_from_db()
    assert outbox == [] and row.status == Message.Status.BLOCKED


# --- the 24-hour window ------------------------------------------------------------------------


def test_a_reply_that_finishes_after_the_window_closed_is_blocked(outbox, user_wrote):
    user_wrote(PHONE, at=timezone.now() - timedelta(hours=24, seconds=1))

    (row,) = deliver_reply(user_phone=PHONE, text="Perdón la demora", origin=Message.Origin.ASSISTANT)

    assert outbox == []
    assert (row.status, row.error_code) == (Message.Status.BLOCKED, "window_closed")
    assert "24 hours" in row.status_note


def test_inside_the_window_a_reply_goes_out(outbox, user_wrote):
    user_wrote(PHONE, at=timezone.now() - timedelta(hours=23, minutes=59))
    (row,) = deliver_reply(user_phone=PHONE, text="Hola", origin=Message.Origin.ASSISTANT)
    assert len(outbox) == 1 and row.status == "queued"


def test_a_phone_that_never_wrote_gets_no_free_form_message(outbox, staff_user):
    (row,) = send_staff_message(user_phone=PHONE, text="Hola", staff_user_id=staff_user.pk)
    assert outbox == [] and row.error_code == "window_closed"


def test_every_inbound_message_moves_the_window(db):
    message_log.record_inbound(user_phone=PHONE, twilio_sid="SM" + "1" * 32, body="hola")
    first = Contact.objects.get(pk=PHONE).last_inbound_at
    message_log.record_inbound(user_phone=PHONE, twilio_sid="SM" + "2" * 32, body="¿sigues?")
    state = consent.outbound_state(PHONE)
    assert state.window_open and state.window_closes_at > first + timedelta(hours=24) - timedelta(seconds=1)
    assert Contact.objects.get(pk=PHONE).last_inbound_at >= first


def test_a_template_goes_out_when_the_window_is_closed(outbox, user_wrote, template):
    from threads.message_templates import send_template

    user_wrote(PHONE, at=timezone.now() - timedelta(days=3))
    message = send_template(user_phone=PHONE, name="seguimiento", variables={"1": "Ana", "2": "Python"})

    assert message.status == "queued" and message.template == template
    assert outbox[-1].content_sid == CONTENT_SID
    assert outbox[-1].body == "Hola Ana, ¿te ayudo con Python?"


# --- templates through Twilio, and 63016 -------------------------------------------------------

TWILIO_SID = "AC" + "1" * 32
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


@pytest.fixture
def twilio(settings):
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = "token-consent-test"
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    with responses_lib.RequestsMock() as mock:
        yield mock


def test_a_template_is_sent_to_twilio_as_content_sid_and_variables(twilio, template):
    twilio.post(MESSAGES_URL, status=201, json={"sid": "SM" + "c" * 32, "status": "queued"})
    from threads.message_templates import send_template

    send_template(user_phone=PHONE, name="seguimiento", variables={"1": "Ana", "2": "Python"})

    form = parse_qs(twilio.calls[0].request.body)
    assert form["ContentSid"] == [CONTENT_SID]
    assert form["ContentVariables"] == ['{"1": "Ana", "2": "Python"}']
    assert "Body" not in form and form["To"] == [PHONE]


def test_twilio_63016_lands_as_a_failed_message_with_the_explanation(twilio, user_wrote):
    user_wrote(PHONE)  # our clock says open; Twilio's says closed
    twilio.post(
        MESSAGES_URL,
        status=400,
        json={"code": 63016, "message": "Failed to send freeform message outside the window", "status": 400},
    )

    (row,) = deliver_reply(user_phone=PHONE, text="Hola", origin=Message.Origin.STAFF)

    assert (row.status, row.error_code) == (Message.Status.FAILED, "63016")
    assert "approved template" in row.status_note


# --- template validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "variables", "error"),
    [
        ("nadie", {"1": "Ana", "2": "x"}, "no template named 'nadie'"),
        ("seguimiento", {"1": "Ana"}, "needs a value for variable 2"),
        ("seguimiento", {"1": "Ana", "2": "x", "3": "y"}, "has no variable 3"),
        ("seguimiento", {"1": "Ana\nLópez", "2": "x"}, "line break"),
        ("seguimiento", {"1": "Ana      López", "2": "x"}, "four spaces"),
        ("seguimiento", {"1": "A" * 1601, "2": "x"}, "1601 characters"),
        ("seguimiento", {"1": "A" * 1010, "2": "x"}, "WhatsApp allows 1024"),
    ],
)
def test_bad_template_sends_are_clear_errors_and_send_nothing(outbox, template, name, variables, error):
    from threads.message_templates import TemplateError, send_template

    with pytest.raises(TemplateError, match=error):
        send_template(user_phone=PHONE, name=name, variables=variables)
    assert outbox == [] and not Message.objects.exists()


def test_an_inactive_template_is_refused(outbox, template):
    from threads.message_templates import TemplateError, send_template

    MessageTemplate.objects.filter(pk=template.pk).update(active=False)
    with pytest.raises(TemplateError, match="inactive"):
        send_template(user_phone=PHONE, name="seguimiento", variables={"1": "Ana", "2": "x"})


# --- stats -------------------------------------------------------------------------------------


def test_the_stats_count_opt_outs_opt_ins_and_blocked_messages(outbox, user_wrote):
    user_wrote(PHONE)
    consent.opt_out(PHONE, via="keyword BAJA")
    deliver_reply(user_phone=PHONE, text="hola", origin=Message.Origin.ASSISTANT)
    consent.opt_in(PHONE, via="keyword ALTA")
    consent.opt_out(PHONE, via="staff")

    stats = get_dashboard_stats(days=7)

    assert (stats.opt_outs, stats.opt_ins, stats.blocked_messages, stats.opted_out_users) == (2, 1, 1, 1)
    assert (stats.per_day[-1].opt_outs, stats.per_day[-1].opt_ins) == (2, 1)


def test_outbound_states_read_many_users_in_one_query(db, django_assert_num_queries):
    other, stranger = "whatsapp:+5215500000001", "whatsapp:+5215500000002"
    message_log.record_inbound(user_phone=PHONE, twilio_sid="SM" + "3" * 32, body="hola")
    Contact.objects.create(user_phone=other, opted_out_at=timezone.now())

    with django_assert_num_queries(1):
        states = consent.outbound_states([PHONE, other, stranger])

    assert states == {phone: consent.outbound_state(phone) for phone in (PHONE, other, stranger)}
    assert states[PHONE].free_form_allowed
    assert states[other].opted_out and not states[other].template_allowed
    assert not states[stranger].opted_out and not states[stranger].window_open
