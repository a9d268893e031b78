"""The staff inbox: every conversation listed, a conversation as a chat, the polled JSON, actions and permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from threads import message_log
from threads.models import Contact, Handoff, Message, OaThreadMap
from threads.services import process_user_messages

PHONE = "whatsapp:+5215533334444"
OTHER = "whatsapp:+5215599998888"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))


def say(text: str, phone: str = PHONE, name: str = "Lucía") -> None:
    message_log.record_inbound(user_phone=phone, twilio_sid=f"SM{next(_sid):032x}", body=text, profile_name=name)
    process_user_messages(user_phone=phone)


def staff_user(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user(f"staff{next(_sid)}", password="a-long-staff-password-1")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="threads", codename__in=codenames))
    return user


@pytest.fixture
def agent(client, django_user_model):
    user = staff_user(django_user_model, "use_inbox", "send_staff_message", "pause_bot", "reset_thread")
    client.force_login(user)
    return user


def conversation_url(phone: str = PHONE, name: str = "inbox_conversation") -> str:
    return reverse(name, args=[phone])


def test_the_inbox_lists_a_contact_answered_only_by_the_rule_based_responder(openai_off, outbox, client, agent):
    say("hola, ¿qué cursos tienen?")
    assert not OaThreadMap.objects.exists()

    page = client.get(reverse("inbox"))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Lucía" in text and PHONE in text and "no thread" in text and "unread" in text
    assert conversation_url() in text


def test_waiting_contacts_come_first_and_filters_and_search_narrow_the_list(openai_off, outbox, client, agent):
    say("hola", phone=OTHER, name="Pedro")
    say("quiero hablar con una persona")  # Lucía waits for staff
    say("¿y precios?", phone=OTHER, name="Pedro")  # Pedro's activity is newer

    rows = client.get(reverse("inbox")).context["parts"]["inbox-rows"]
    assert rows.index("Lucía") < rows.index("Pedro") and "waiting for staff" in rows

    waiting = client.get(reverse("inbox"), {"status": "waiting"}).context["parts"]["inbox-rows"]
    assert "Lucía" in waiting and "Pedro" not in waiting
    found = client.get(reverse("inbox"), {"q": "pedro"}).context["parts"]["inbox-rows"]
    assert "Pedro" in found and "Lucía" not in found
    by_phone = client.get(reverse("inbox"), {"q": "3333"}).context["parts"]["inbox-rows"]
    assert "Lucía" in by_phone and "Pedro" not in by_phone


def test_the_conversation_page_is_a_chat_with_labels_and_marks_it_read(openai_off, outbox, client, agent):
    say("quiero hablar con una persona")
    client.post(reverse("inbox_reply", args=[PHONE]), {"text": "Hola Lucía, soy Carla"})

    page = client.get(conversation_url())

    text = page.content.decode()
    assert 'class="bubble from-user"' in text and "origin-fallback" in text and "origin-staff" in text
    assert "Rule-based responder" in text and "Staff · " in text and "Hola Lucía, soy Carla" in text
    assert "bot paused" in text and 'id="reply-send"' in text
    assert Contact.objects.get(pk=PHONE).staff_read_at is not None
    assert "unread" not in client.get(reverse("inbox")).context["parts"]["inbox-rows"]


def test_the_poll_answers_unchanged_until_a_message_arrives(openai_off, outbox, client, agent):
    say("hola")
    first = client.get(conversation_url(name="inbox_conversation_updates")).json()
    listed = client.get(reverse("inbox_updates")).json()
    assert first["changed"] is True and "hola" in first["parts"]["inbox-transcript"]

    again = client.get(conversation_url(name="inbox_conversation_updates"), {"version": first["version"]}).json()
    assert again == {"version": first["version"], "changed": False}
    assert client.get(reverse("inbox_updates"), {"version": listed["version"]}).json()["changed"] is False

    say("¿siguen ahí?")
    later = client.get(conversation_url(name="inbox_conversation_updates"), {"version": first["version"]}).json()
    assert later["changed"] is True and "¿siguen ahí?" in later["parts"]["inbox-transcript"]
    assert client.get(reverse("inbox_updates"), {"version": listed["version"]}).json()["changed"] is True


def test_reply_resolve_pause_resume_and_reset(openai_off, outbox, client, agent):
    say("quiero hablar con una persona")
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_inbox1")

    assert client.post(reverse("inbox_resolve", args=[PHONE])).status_code == 302
    assert Contact.objects.get(pk=PHONE).waiting_since is None and Handoff.objects.get().outcome == "resolved"
    client.post(reverse("inbox_resume", args=[PHONE]))
    assert not Contact.objects.get(pk=PHONE).bot_paused
    client.post(reverse("inbox_pause", args=[PHONE]))
    assert Contact.objects.get(pk=PHONE).bot_paused
    client.post(reverse("inbox_reply", args=[PHONE]), {"text": "Te escribo en un momento"})
    assert outbox[-1].body == "Te escribo en un momento"
    assert Message.objects.filter(origin="staff", staff_user=agent).exists()
    client.post(reverse("inbox_reset", args=[PHONE]))
    assert not OaThreadMap.objects.filter(pk=PHONE).exists()


def test_a_4000_character_reply_with_line_breaks_is_sent_as_the_browser_counted_it(openai_off, outbox, client, agent):
    say("hola")
    lines = ["x" * 99] * 40  # 40 lines of 99 characters and 39 breaks: 3,999 characters, 4,038 with CRLF
    typed = "\r\n".join(lines) + "y"

    response = client.post(reverse("inbox_reply", args=[PHONE]), {"text": typed}, follow=True)

    assert "Sent." in response.content.decode()
    sent = Message.objects.filter(origin="staff").order_by("id")
    assert "".join(m.body for m in sent).replace("\n", "") == "x" * 3960 + "y" and "\r" not in sent[0].body


def test_a_refused_reply_keeps_what_staff_typed_in_the_box_once(openai_off, outbox, client, agent):
    say("hola")
    typed = "Hola Lucía <3\r\n" + "a" * 4000

    page = client.post(reverse("inbox_reply", args=[PHONE]), {"text": typed}, follow=True)

    text = page.content.decode()
    assert "at most 4,000 characters" in text and "Your text is still in the box" in text
    assert "Hola Lucía &lt;3\r\n" + "a" * 4000 + "</textarea>" in text
    assert not Message.objects.filter(origin="staff").exists()
    assert "a" * 4000 not in client.get(conversation_url()).content.decode()  # shown once, then forgotten


def test_a_reply_that_could_not_be_sent_keeps_the_text_too(openai_off, outbox, client, agent, settings):
    say("hola")
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"  # without an account: it cannot be built
    settings.TWILIO_ACCOUNT_SID = settings.TWILIO_AUTH_TOKEN = settings.TWILIO_PHONE_NUMBER = ""

    page = client.post(reverse("inbox_reply", args=[PHONE]), {"text": "Te llamo mañana"}, follow=True)

    assert "nothing was sent" in page.content.decode()
    assert "Te llamo mañana</textarea>" in page.content.decode()


def test_a_refused_template_keeps_the_variables(openai_off, outbox, client, agent):
    from datetime import timedelta

    from django.utils import timezone

    from threads.models import MessageTemplate

    say("hola")
    Contact.objects.filter(pk=PHONE).update(last_inbound_at=timezone.now() - timedelta(days=2))
    MessageTemplate.objects.create(name="hello", body="Hola {{1}}", active=True)

    page = client.post(reverse("inbox_template", args=[PHONE]), {"name": "hello", "variables": "oops"}, follow=True)

    text = page.content.decode()
    assert "NAME=value" in text and "oops</textarea>" in text and '<option value="hello" selected>' in text


def test_resetting_a_user_without_a_thread_says_their_history_starts_afresh(openai_off, outbox, client, agent):
    say("hola")
    assert not OaThreadMap.objects.exists()

    page = client.post(reverse("inbox_reset", args=[PHONE]), follow=True)

    text = page.content.decode()
    assert "had no thread mapping; their history starts afresh" in text and "no thread to reset" not in text
    assert Contact.objects.get(pk=PHONE).history_starts_at is not None


def test_a_delivered_reply_and_template_are_written_to_the_admin_history_a_refused_one_is_not(
    openai_off, outbox, client, agent
):
    from django.contrib.admin.models import LogEntry

    from threads.models import MessageTemplate

    say("hola")
    MessageTemplate.objects.create(
        name="seguimiento", content_sid="HX" + "c" * 32, body="Hola {{1}}", variables="1: nombre"
    )

    client.post(reverse("inbox_reply", args=[PHONE]), {"text": "Hola, soy Carla"})
    client.post(reverse("inbox_template", args=[PHONE]), {"name": "seguimiento", "variables": "1=Lucía"})
    Contact.objects.filter(pk=PHONE).update(opted_out_at=timezone.now())
    client.post(reverse("inbox_reply", args=[PHONE]), {"text": "¿Sigues ahí?"})

    assert sorted(LogEntry.objects.values_list("change_message", flat=True)) == [
        "Sent a WhatsApp message as staff",
        "Sent the WhatsApp template seguimiento",
    ]


def test_inbox_actions_are_written_to_the_admin_history(openai_off, outbox, client, agent):
    from django.contrib.admin.models import CHANGE, DELETION, LogEntry

    say("quiero hablar con una persona")
    say("hola", phone=OTHER, name="Pedro")  # Pedro has no thread: his entries go on his contact
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_logged")

    for action in ("inbox_resolve", "inbox_resume", "inbox_pause", "inbox_reset"):
        client.post(reverse(action, args=[PHONE]))
    client.post(reverse("inbox_pause", args=[OTHER]))
    client.post(reverse("inbox_reset", args=[OTHER]))

    entries = [(e.content_type.model, e.object_id, e.action_flag, e.change_message) for e in LogEntry.objects.all()]
    assert ("oathreadmap", PHONE, CHANGE, "Resolved the user's wait for staff") in entries
    assert ("oathreadmap", PHONE, CHANGE, "Resumed the bot") in entries
    assert ("oathreadmap", PHONE, CHANGE, "Paused the bot (human takeover)") in entries
    assert ("oathreadmap", PHONE, DELETION, "") in entries
    assert ("contact", OTHER, CHANGE, "Paused the bot (human takeover)") in entries
    assert ("contact", OTHER, CHANGE, "Reset the history (no thread mapping)") in entries
    assert all(e.user_id == agent.pk for e in LogEntry.objects.all())


def test_reset_asks_for_confirmation_first(openai_off, outbox, client, agent):
    say("hola")
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_confirm")

    conversation = client.get(conversation_url()).content.decode()
    confirmation = client.get(reverse("inbox_reset", args=[PHONE]))

    reset_url = reverse("inbox_reset", args=[PHONE])
    assert f'<form method="post" action="{reset_url}"' not in conversation  # one click does not reset
    assert f'<form method="get" action="{reset_url}"' in conversation
    assert confirmation.status_code == 200 and "new conversation" in confirmation.content.decode()
    assert f'<form method="post" action="{reset_url}"' in confirmation.content.decode()
    assert OaThreadMap.objects.filter(pk=PHONE).exists()


def test_the_poll_refreshes_the_action_buttons_and_the_reply_box(openai_off, outbox, client, agent):
    from datetime import timedelta

    from django.utils import timezone

    say("hola")
    page = client.get(conversation_url())
    assert 'id="action-pause"' in page.content.decode() and 'id="reply-send"' in page.content.decode()

    say("quiero hablar con una persona")  # the bot pauses itself and the user waits
    paused = client.get(conversation_url(name="inbox_conversation_updates"), {"version": page.context["version"]})
    actions = paused.json()["parts"]["inbox-actions"]
    assert 'id="action-resume"' in actions and 'id="action-resolve"' in actions and "action-pause" not in actions

    Contact.objects.filter(pk=PHONE).update(last_inbound_at=timezone.now() - timedelta(days=2))
    closed = client.get(conversation_url(name="inbox_conversation_updates"), {"version": paused.json()["version"]})
    compose = closed.json()["parts"]["inbox-compose"]
    assert "window is closed" in compose and 'id="template-send"' in compose and "reply-send" not in compose


def test_an_unknown_number_is_a_404_and_get_cannot_act(client, agent):
    assert client.get(conversation_url(OTHER)).status_code == 404
    assert client.get(reverse("inbox_pause", args=[OTHER])).status_code == 405


def test_actions_need_the_csrf_token(openai_off, outbox, django_user_model):
    from django.test import Client

    say("hola")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff_user(django_user_model, "use_inbox", "pause_bot"))

    assert csrf_client.post(reverse("inbox_pause", args=[PHONE])).status_code == 403
    assert not Contact.objects.get(pk=PHONE).bot_paused


ALL_URLS = [
    ("get", "inbox", False),
    ("get", "inbox_updates", False),
    ("get", "inbox_conversation", True),
    ("get", "inbox_conversation_updates", True),
    ("post", "inbox_reply", True),
    ("post", "inbox_template", True),
    ("post", "inbox_pause", True),
    ("post", "inbox_resume", True),
    ("post", "inbox_resolve", True),
    ("post", "inbox_reset", True),
]


@pytest.mark.parametrize(("method", "name"), [(method, name) for method, name, with_phone in ALL_URLS if with_phone])
@pytest.mark.parametrize("phone", ["foo", "whatsapp:+5210000000000", "whatsapp:+5210000000000\n"])
def test_a_number_that_never_wrote_is_a_404_everywhere_and_nothing_is_created(
    method, name, phone, openai_off, outbox, client, agent
):
    from threads.models import MessageTemplate

    say("hola")  # someone else did write
    template = MessageTemplate.objects.create(name="hello", body="Hola {{1}}", active=True)
    before = (Contact.objects.count(), Message.objects.count())

    data = {"text": "hola", "name": template.name, "variables": "1=Ana"} if method == "post" else {}
    response = getattr(client, method)(reverse(name, args=[phone]), data)

    assert response.status_code == 404
    assert (Contact.objects.count(), Message.objects.count()) == before
    assert not Contact.objects.filter(pk=phone).exists()


@pytest.mark.parametrize(("method", "name", "with_phone"), ALL_URLS)
def test_staff_without_the_inbox_permission_get_403_everywhere(
    method, name, with_phone, openai_off, outbox, client, django_user_model
):
    say("hola")
    client.force_login(staff_user(django_user_model, "send_staff_message", "pause_bot", "reset_thread"))
    url = reverse(name, args=[PHONE] if with_phone else [])

    response = getattr(client, method)(url, {"text": "hola"} if method == "post" else {})

    assert response.status_code == 403
    assert not Message.objects.filter(direction="out", origin="staff").exists()


@pytest.mark.parametrize(
    ("name", "codename"),
    [
        ("inbox_reply", "send_staff_message"),
        ("inbox_pause", "pause_bot"),
        ("inbox_reset", "reset_thread"),
        ("inbox_resolve", "pause_bot"),
    ],
)
def test_each_action_needs_its_own_permission_too(name, codename, openai_off, outbox, client, django_user_model):
    say("hola")
    client.force_login(staff_user(django_user_model, "use_inbox"))

    assert client.post(reverse(name, args=[PHONE]), {"text": "hola"}).status_code == 403


def test_an_inbox_only_user_finds_the_inbox_on_the_admin_home_and_no_link_they_cannot_open(
    openai_off, outbox, client, django_user_model
):
    say("hola")
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_inbox_only")
    client.force_login(staff_user(django_user_model, "use_inbox"))

    home = client.get(reverse("admin:index")).content.decode()
    conversation = client.get(conversation_url()).content.decode()

    assert f'href="{reverse("inbox")}"' in home and "permission to view or edit anything" not in home
    assert reverse("threads_stats") not in home
    assert "thread mapping" not in conversation
    assert reverse("admin:threads_oathreadmap_change", args=["whatsapp_3A+5215533334444"]) not in conversation


def test_staff_who_may_open_the_mapping_get_its_link(openai_off, outbox, client, django_user_model):
    say("hola")
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_mapped")
    client.force_login(staff_user(django_user_model, "use_inbox", "view_oathreadmap"))

    assert "thread mapping" in client.get(conversation_url()).content.decode()
    home = client.get(reverse("admin:index")).content.decode()
    assert reverse("threads_stats") in home and f'href="{reverse("inbox")}"' in home


def test_anonymous_users_are_sent_to_the_login(client):
    response = client.get(reverse("inbox_updates"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


class TestScale:
    """The list reads a bounded number of rows and queries, whatever the number of contacts and messages."""

    @staticmethod
    def contacts(n: int, *, waiting: int = 0) -> list[str]:
        from datetime import timedelta

        from django.utils import timezone

        from threads.models import Message as Msg

        phones = [f"whatsapp:+52155{i:08d}" for i in range(n)]
        for i, phone in enumerate(phones):
            message_log.record_inbound(user_phone=phone, twilio_sid=f"SM{next(_sid):032x}", body=f"hola {i}")
            message_log.record_outbound(user_phone=phone, body=f"respuesta {i}", origin=Msg.Origin.ASSISTANT)
            if i % 2:
                OaThreadMap.objects.create(user_phone=phone, thread_id=f"conv_scale{i}")
        for i, phone in enumerate(phones[:waiting]):
            Contact.objects.filter(pk=phone).update(waiting_since=timezone.now() - timedelta(minutes=10 - i))
        return phones

    def test_the_list_and_its_poll_take_a_bounded_number_of_queries(self, client, agent, django_assert_max_num_queries):
        self.contacts(60, waiting=3)

        # Session, user, its permissions (2); one count, the waiting rows, the others, their last
        # messages, their threads. 60 contacts (more than a page) cost what 3 would.
        with django_assert_max_num_queries(9):
            rows = client.get(reverse("inbox_updates")).json()["parts"]["inbox-rows"]
        with django_assert_max_num_queries(9):
            second = client.get(reverse("inbox_updates"), {"page": 2}).json()["parts"]["inbox-rows"]
        with django_assert_max_num_queries(9):
            assert client.get(reverse("inbox"), {"status": "unread"}).status_code == 200

        assert rows.count("<tr class=") == 50 and second.count("<tr class=") == 10
        assert "60 conversations" in rows and "respuesta 59" in rows and "no thread" in rows

    @pytest.mark.parametrize("page", ["99999999999999999999", "-99999999999999999999", "1" * 5000, "2.5", "x"])
    def test_any_page_number_shows_a_page(self, page, client, agent):
        self.contacts(3)

        listed = client.get(reverse("inbox"), {"page": page})
        polled = client.get(reverse("inbox_updates"), {"page": page})

        assert listed.status_code == 200 and polled.status_code == 200
        assert listed.context["parts"]["inbox-rows"].count("<tr class=") == 3
        assert polled.json()["parts"]["inbox-rows"].count("<tr class=") == 3

    def test_a_page_past_the_end_shows_the_last(self, monkeypatch):
        from threads import inbox

        self.contacts(5)
        monkeypatch.setattr(inbox, "PAGE_SIZE", 2)

        assert len(inbox.list_conversations(page=10**20)[0]) == 1

    def test_the_list_links_its_pages_keeping_the_filter_and_the_search(self, client, agent, monkeypatch):
        from threads import inbox

        self.contacts(5)
        monkeypatch.setattr(inbox, "PAGE_SIZE", 2)

        first = client.get(reverse("inbox"), {"status": "unread", "q": "whatsapp"}).context["parts"]["inbox-rows"]
        polled = client.get(reverse("inbox_updates"), {"status": "unread", "q": "whatsapp", "page": 2}).json()
        middle = polled["parts"]["inbox-rows"]
        last = client.get(reverse("inbox"), {"page": 3}).context["parts"]["inbox-rows"]

        assert "Page 1 of 3" in first and 'href="?status=unread&amp;q=whatsapp&amp;page=2"' in first
        assert "Previous" not in first
        # The poll renders the same links (the part it swaps in), without its own "version" key.
        assert "Page 2 of 3" in middle and "page=1" in middle and "page=3" in middle and "version" not in middle
        assert "Page 3 of 3" in last and 'href="?page=2"' in last and "Next" not in last

    def test_pages_run_from_the_waiting_to_the_newest_activity_without_gaps(self, monkeypatch):
        from threads import inbox

        phones = self.contacts(6, waiting=3)
        monkeypatch.setattr(inbox, "PAGE_SIZE", 2)

        pages = [inbox.list_conversations(page=p) for p in (1, 2, 3)]

        listed = [row.contact.user_phone for rows, _ in pages for row in rows]
        assert inbox.list_conversations(page=4) == pages[-1]  # past the end: the last page
        assert listed == [*phones[:3], phones[5], phones[4], phones[3]]
        assert {total for _, total in pages} == {6}
        first = pages[0][0][0]
        assert first.last_message.body == "respuesta 0" and first.unread and not first.mapped

    def test_a_staff_message_moves_the_conversation_up_a_bot_reply_does_not_need_to(self, agent, django_user_model):
        from threads import inbox, staff

        phones = self.contacts(3)
        newest_first = [row.contact.user_phone for row in inbox.list_conversations()[0]]
        assert newest_first == phones[::-1]

        staff.send_staff_message(user_phone=phones[0], text="Hola, ¿te ayudo?", staff_user_id=agent.pk)

        rows, _ = inbox.list_conversations()
        assert rows[0].contact.user_phone == phones[0] and rows[0].last_message.body == "Hola, ¿te ayudo?"

    def test_the_migration_orders_existing_contacts_by_their_latest_message(self):
        import importlib
        from datetime import timedelta

        from django.apps import apps
        from django.utils import timezone

        migration = importlib.import_module("threads.migrations.0008_inbox_activity")
        long_ago = timezone.now() - timedelta(days=30)
        Contact.objects.create(user_phone=PHONE, first_seen_at=long_ago)
        Contact.objects.create(user_phone=OTHER, first_seen_at=long_ago)
        latest = Message.objects.create(
            user_phone=PHONE, direction="out", origin="staff", body="x", status="sent", created_at=long_ago
        )
        Message.objects.filter(pk=latest.pk).update(created_at=long_ago + timedelta(days=1))

        migration.backfill_last_activity(apps, None)

        assert Contact.objects.get(pk=PHONE).last_activity_at == long_ago + timedelta(days=1)
        assert Contact.objects.get(pk=OTHER).last_activity_at == long_ago
