"""Staff and scripts outside the 24-hour window: the send form says so; templates go out from the admin, a command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.utils import quote
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from threads import consent, repository
from threads.models import Contact, Handoff, Message, MessageTemplate

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
CONTENT_SID = "HX" + "a" * 32


def action_url(name: str) -> str:
    return reverse(f"admin:threads_oathreadmap_{name}")


@pytest.fixture
def boss(django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ana(db):
    """Ana has a conversation; her last message was three days ago."""
    repository.save_thread_id(PHONE, "conv_ana")
    Contact.objects.create(user_phone=PHONE, profile_name="Ana", last_inbound_at=timezone.now() - timedelta(days=3))


@pytest.fixture
def template(db):
    return MessageTemplate.objects.create(
        name="seguimiento",
        content_sid=CONTENT_SID,
        body="Hola {{1}}, ¿seguimos con {{2}}?",
        variables="1: nombre\n2: curso",
    )


def test_the_send_form_says_the_window_is_closed_and_offers_a_template(boss, ana):
    page = boss.get(action_url("send"), {"phone": PHONE}).content.decode()

    assert "WINDOW CLOSED" in page
    assert "send a template instead" in page and action_url("template") in page


def test_a_staff_message_outside_the_window_is_stored_blocked_and_explained(boss, ana, outbox):
    response = boss.post(
        action_url("send"), {"phone": PHONE, "confirm": "yes", "text": "¿Sigues interesada?"}, follow=True
    )

    assert outbox == []
    row = Message.objects.get(origin=Message.Origin.STAFF)
    assert (row.status, row.error_code) == (Message.Status.BLOCKED, "window_closed")
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("24 hours" in note for note in notes)
    assert "only an approved template" in response.content.decode()  # the transcript explains it too


def test_staff_send_a_template_in_three_steps(boss, ana, template, outbox):
    choose = boss.get(action_url("template"), {"phone": PHONE})
    assert 'name="template"' in choose.content.decode()

    fields = boss.post(action_url("template"), {"phone": PHONE, "template": "seguimiento", "preview": "1"})
    page = fields.content.decode()
    assert 'name="var_1"' in page and 'name="var_2"' in page and "nombre" in page

    preview = boss.post(
        action_url("template"),
        {"phone": PHONE, "template": "seguimiento", "var_1": "Ana", "var_2": "Python", "preview": "1"},
    )
    assert "Hola Ana, ¿seguimos con Python?" in preview.content.decode()
    assert outbox == []

    boss.post(
        action_url("template"),
        {"phone": PHONE, "template": "seguimiento", "var_1": "Ana", "var_2": "Python", "confirm": "Send template"},
    )
    assert [(m.to, m.content_sid, m.body) for m in outbox] == [(PHONE, CONTENT_SID, "Hola Ana, ¿seguimos con Python?")]
    sent = Message.objects.get()
    assert sent.template == template and sent.template_variables == {"1": "Ana", "2": "Python"}


@pytest.mark.parametrize("where", ["users admin", "inbox"])
def test_a_template_staff_send_to_a_waiting_user_ends_their_wait(boss, ana, template, outbox, where):
    """A template answers a user waiting for a person, as a staff message does, from either admin page."""
    asked = timezone.now() - timedelta(hours=1)
    Contact.objects.filter(pk=PHONE).update(bot_paused=True, waiting_since=asked, waiting_reason="quiere una persona")
    Handoff.objects.create(user_phone=PHONE, via=Handoff.Via.RULES, requested_at=asked)
    variables = {"var_1": "Ana", "var_2": "Python"}

    if where == "inbox":
        url = reverse("inbox_template", args=[PHONE])
        boss.post(url, {"name": "seguimiento", "variables": "1=Ana\n2=Python"})
    else:
        boss.post(action_url("template"), {"phone": PHONE, "template": "seguimiento", **variables, "confirm": "Send"})

    assert len(outbox) == 1
    contact = Contact.objects.get(pk=PHONE)
    assert contact.waiting_since is None and contact.bot_paused  # answered; staff keep the conversation
    record = Handoff.objects.get()
    assert record.outcome == Handoff.Outcome.REPLIED and record.first_staff_reply_at is not None


def test_a_template_form_with_a_bad_value_shows_the_error_and_sends_nothing(boss, ana, template, outbox):
    response = boss.post(
        action_url("template"),
        {"phone": PHONE, "template": "seguimiento", "var_1": "Ana", "var_2": "", "confirm": "Send template"},
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert outbox == [] and not Message.objects.exists()


def test_the_template_form_skips_opted_out_users_with_a_reason(boss, ana, template, outbox):
    consent.opt_out(PHONE, via="keyword BAJA")
    response = boss.post(
        action_url("template"),
        {"phone": PHONE, "template": "seguimiento", "var_1": "Ana", "var_2": "IA", "confirm": "Send template"},
        follow=True,
    )
    assert outbox == []
    assert any("opted out" in str(m) for m in get_messages(response.wsgi_request))


def test_a_staff_user_without_the_send_permission_cannot_send_templates(django_user_model, ana, template, outbox):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_oathreadmap"))
    client = Client()
    client.force_login(viewer)

    response = client.post(
        action_url("template"),
        {"phone": PHONE, "template": "seguimiento", "var_1": "Ana", "var_2": "IA", "confirm": "Send template"},
    )
    assert response.status_code == 403 and outbox == []


def test_the_template_admin_refuses_a_malformed_content_sid(boss):
    response = boss.post(
        reverse("admin:threads_messagetemplate_add"),
        {"name": "x", "content_sid": "HXnope", "language": "es", "body": "Hola {{1}}", "variables": "", "active": "on"},
    )
    assert response.status_code == 200 and "HX followed by 32 hexadecimal digits" in response.content.decode()
    assert not MessageTemplate.objects.exists()


# --- manage.py send_template -------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("send_template", *args, stdout=out)
    return out.getvalue()


def test_the_command_sends_a_template(ana, template, outbox):
    output = run("+5215512345678", "seguimiento", "--var", "1=Ana", "--var", "2=Python")

    assert "Sent template seguimiento to whatsapp:+5215512345678" in output
    assert outbox[-1].content_sid == CONTENT_SID and outbox[-1].body == "Hola Ana, ¿seguimos con Python?"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("+5215512345678", "nadie", "--var", "1=Ana"), "no template named 'nadie'"),
        (("+5215512345678", "seguimiento", "--var", "1=Ana"), "needs a value for variable 2"),
        (("+5215512345678", "seguimiento", "--var", "Ana"), "--var takes KEY=VALUE"),
        (("+5215512345678", "seguimiento", "--var", "1=A", "--var", "1=B"), "given twice"),
        (("5512345678", "seguimiento"), "Not a WhatsApp phone number"),
    ],
)
def test_the_command_refuses_bad_input_with_a_clear_message(ana, template, outbox, args, error):
    with pytest.raises(CommandError, match=error):
        run(*args)
    assert outbox == [] and not Message.objects.exists()


def test_the_command_refuses_an_opted_out_user(ana, template, outbox):
    consent.opt_out(PHONE, via="keyword BAJA")
    with pytest.raises(CommandError, match="opted out") as error:
        run("+5215512345678", "seguimiento", "--var", "1=Ana", "--var", "2=IA")
    assert outbox == []
    assert str(error.value).lower().count("nothing was sent") == 1


def test_the_command_exits_1_as_an_operator_sees_it(ana, template, capfd):
    from django.core.management import execute_from_command_line

    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "send_template", "+5215512345678", "nadie"])
    assert exit_info.value.code == 1
    assert "no template named 'nadie'" in capfd.readouterr().err


def test_the_contacts_admin_lists_and_filters_opted_out_users(boss, ana):
    Contact.objects.create(user_phone="whatsapp:+5215500000001", profile_name="Beto", last_inbound_at=timezone.now())
    consent.opt_out(PHONE, via="keyword BAJA")
    url = reverse("admin:threads_contact_changelist")

    opted_out = boss.get(url, {"opted_out": "yes"}).content.decode()
    subscribed = boss.get(url, {"opted_out": "no"}).content.decode()
    window_open = boss.get(url, {"window": "open"}).content.decode()

    assert "Ana" in opted_out and "OPTED OUT" in opted_out and "Beto" not in opted_out
    assert "Beto" in subscribed and "Ana" not in subscribed
    assert "Beto" in window_open and "Ana" not in window_open  # Ana last wrote three days ago
    detail = boss.get(reverse("admin:threads_contact_change", args=[quote(PHONE)])).content.decode()
    assert "keyword BAJA" in detail
