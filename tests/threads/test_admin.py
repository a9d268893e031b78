"""The staff side in the admin through the test client: as superuser, read-only staff and non-staff users."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from threads import repository
from threads.admin.display import format_usd
from threads.models import Contact, Message, OaThreadMap, Turn

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:threads_oathreadmap_changelist")
STATS = reverse("threads_stats")
PHONE = "whatsapp:+5215512345678"
OTHER = "whatsapp:+5213398765432"
LEGACY = "whatsapp:+5218112345678"
_sid = iter(range(10**6))


def change_url(phone: str) -> str:
    return reverse("admin:threads_oathreadmap_change", args=[quote(phone)])


def action_url(name: str) -> str:
    return reverse(f"admin:threads_oathreadmap_{name}")


def make_mapping(phone: str, thread_id: str, *, name: str = "", paused: bool = False, updated_ago=None) -> OaThreadMap:
    repository.save_thread_id(phone, thread_id)
    if name or paused:
        Contact.objects.create(user_phone=phone, profile_name=name, bot_paused=paused)
    if updated_ago is not None:
        OaThreadMap.objects.filter(pk=phone).update(updated_at=timezone.now() - updated_ago)
    return OaThreadMap.objects.get(pk=phone)


def log(phone: str, body: str, *, direction: str = "in", minutes_ago: int = 0, **fields) -> Message:
    inbound = direction == "in"
    fields.setdefault("origin", "user" if inbound else "assistant")
    fields.setdefault("status", "received" if inbound else "delivered")
    return Message.objects.create(
        user_phone=phone,
        direction=direction,
        body=body,
        twilio_sid=f"SM{next(_sid):032x}",
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def shown(response) -> list[str]:
    return [m.pk for m in response.context["cl"].result_list]


def user_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def admin_client_(django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com")
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def viewer_client(django_user_model):
    """Staff in a read-only group: may browse mappings, nothing else."""
    group = Group.objects.create(name="Read-only")
    group.permissions.add(Permission.objects.get(content_type__app_label="threads", codename="view_oathreadmap"))
    user = django_user_model.objects.create_user("viewer", is_staff=True)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pauser_client(django_user_model):
    """Staff who may browse and pause/resume, but neither reset nor write to users."""
    user = django_user_model.objects.create_user("pauser", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="threads", codename__in=["view_oathreadmap", "pause_bot"])
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def outsider_client(django_user_model):
    user = django_user_model.objects.create_user("outsider")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def three_mappings():
    make_mapping(PHONE, "conv_ana", name="Ana López", updated_ago=timedelta(hours=1))
    make_mapping(OTHER, "conv_beto", name="Beto", paused=True, updated_ago=timedelta(days=3))
    make_mapping(LEGACY, "thread_legacy", updated_ago=timedelta(days=30))
    log(PHONE, "Hola", minutes_ago=10)
    log(PHONE, "¡Hola! Soy Brenda.", direction="out", minutes_ago=9)
    log(OTHER, "Buenas", minutes_ago=60 * 24 * 3)


# --- the list -------------------------------------------------------------------------


def test_the_admin_offers_no_view_site_link_to_the_json_health_check(admin_client_):
    page = admin_client_.get("/admin/").content.decode()

    assert "View site" not in page


def test_changelist_shows_each_mapping_with_name_engine_counts_and_pause(admin_client_, three_mappings):
    response = admin_client_.get(CHANGELIST)

    assert response.status_code == 200
    assert shown(response) == [PHONE, OTHER, LEGACY]  # most recently updated first
    rows = {m.pk: m for m in response.context["cl"].result_list}
    assert (rows[PHONE].profile_name, rows[PHONE].message_count, rows[PHONE].bot_paused) == ("Ana López", 2, False)
    assert (rows[OTHER].profile_name, rows[OTHER].message_count, rows[OTHER].bot_paused) == ("Beto", 1, True)
    assert (rows[LEGACY].profile_name, rows[LEGACY].message_count, rows[LEGACY].last_message_at) == ("", 0, None)
    html = response.content.decode()
    assert "Ana López" in html and "thread_legacy" in html
    assert "responses" in html and "assistants" in html


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("5512345678", [PHONE]),  # part of the phone
        ("+52133", [OTHER]),
        ("lópez", [PHONE]),  # WhatsApp profile name, case-insensitive
        ("ana lópez", [PHONE]),  # every word must match
        ("beto", [OTHER]),
        ("thread_leg", [LEGACY]),  # thread id
        ("conv_", [PHONE, OTHER]),
        ("nadie", []),
    ],
)
def test_search_finds_by_phone_profile_name_and_thread_id(admin_client_, three_mappings, term, expected):
    response = admin_client_.get(CHANGELIST, {"q": term})

    assert response.status_code == 200
    assert shown(response) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"engine": "responses"}, [PHONE, OTHER]),
        ({"engine": "assistants"}, [LEGACY]),
        ({"activity": "24h"}, [PHONE]),
        ({"activity": "7d"}, [PHONE, OTHER]),
        ({"activity": "older"}, [LEGACY]),
        ({"paused": "yes"}, [OTHER]),
        ({"paused": "no"}, [PHONE, LEGACY]),
        ({"engine": "responses", "paused": "no"}, [PHONE]),
    ],
)
def test_filters_by_engine_activity_and_pause(admin_client_, three_mappings, params, expected):
    response = admin_client_.get(CHANGELIST, params)

    assert response.status_code == 200
    assert shown(response) == expected


def test_the_engine_filter_has_an_other_choice_for_unknown_prefixes(admin_client_, three_mappings):
    make_mapping("whatsapp:+5215500000000", "weird-id")

    response = admin_client_.get(CHANGELIST, {"engine": "unknown"})

    assert shown(response) == ["whatsapp:+5215500000000"]


def _fill(count: int, *, start: int = 0) -> None:
    for i in range(start, start + count):
        phone = f"whatsapp:+52155{i:08d}"
        make_mapping(phone, f"conv_{i}", name=f"Usuario {i}", paused=i % 2 == 0)
        log(phone, "hola")
        log(phone, "respuesta", direction="out")


def test_the_number_of_queries_does_not_grow_with_the_rows(admin_client_, django_assert_max_num_queries):
    _fill(5)
    with CaptureQueriesContext(connection) as few:
        assert len(shown(admin_client_.get(CHANGELIST, {"all": ""}))) == 5
    _fill(95, start=5)

    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as many:
        response = admin_client_.get(CHANGELIST, {"all": ""})

    assert len(shown(response)) == 100
    assert len(many) == len(few)
    assert "Usuario 99" in response.content.decode()


def test_a_page_holds_fifty_mappings_and_skips_the_full_count(admin_client_):
    _fill(60)

    response = admin_client_.get(CHANGELIST)

    assert len(shown(response)) == 50
    assert response.context["cl"].show_full_result_count is False


# --- the change page --------------------------------------------------------------------


@pytest.fixture
def conversation(three_mappings, admin_client_):
    """A transcript with a turn using tools, a fallback turn with an error, a staff message and a held message."""
    turn = Turn.objects.create(
        user_phone=PHONE,
        thread_id="conv_ana",
        engine="responses",
        status="completed",
        latency_ms=1234,
        tool_calls=[{"name": "buscar_curso", "ok": True, "ms": 40}, {"name": "detalle_curso", "ok": False, "ms": 9}],
        input_tokens=321,
        output_tokens=54,
    )
    failed_turn = Turn.objects.create(
        user_phone=PHONE, status="fallback", fallback_used=True, latency_ms=88, error="EngineError: boom <b>"
    )
    log(PHONE, "¿Tienen cursos de Python?", minutes_ago=8, turn=turn)
    log(
        PHONE,
        "Sí: Visión por computadora.",
        direction="out",
        minutes_ago=7,
        turn=turn,
        status="failed",
        error_code="63016",
    )
    log(PHONE, "¿Y el precio?", minutes_ago=6, turn=failed_turn)
    log(PHONE, "Perdón, tuve un problema.", direction="out", origin="fallback", minutes_ago=5, turn=failed_turn)
    log(
        PHONE,
        "Te escribe Carla del equipo.",
        direction="out",
        origin="staff",
        staff_user=admin_client_.user,
        minutes_ago=4,
    )
    log(PHONE, "Gracias <script>x</script>", minutes_ago=3, status="held")
    return turn, failed_turn


def test_change_page_shows_the_whole_transcript_in_time_order_with_turn_details(admin_client_, conversation):
    turn, failed_turn = conversation

    response = admin_client_.get(change_url(PHONE))

    assert response.status_code == 200
    html = response.content.decode()
    bodies = [row.message.body for row in response.context["transcript"]]
    assert bodies == [
        "Hola",
        "¡Hola! Soy Brenda.",
        "¿Tienen cursos de Python?",
        "Sí: Visión por computadora.",
        "¿Y el precio?",
        "Perdón, tuve un problema.",
        "Te escribe Carla del equipo.",
        "Gracias <script>x</script>",
    ]
    # each turn's record is shown once, before its first message
    assert [row.turn.pk for row in response.context["transcript"] if row.turn] == [turn.pk, failed_turn.pk]
    assert (
        html.index(f"Turn #{turn.pk}") < html.index("¿Tienen cursos de Python?") < html.index(f"Turn #{failed_turn.pk}")
    )
    assert "1,234 ms" in html
    assert "buscar_curso (40 ms), detalle_curso (failed, 9 ms)" in html
    assert "tokens 321 in / 54 out" in html
    assert "<strong>fallback</strong>" in html
    assert "error: EngineError: boom &lt;b&gt;" in html
    assert "error 63016" in html
    assert "Failed</span>" in html


def test_staff_and_held_messages_are_marked_and_bodies_are_escaped(admin_client_, conversation):
    html = admin_client_.get(change_url(PHONE)).content.decode()

    assert '<span class="badge staff">STAFF</span> boss' in html
    assert '<span class="badge held">HELD</span>' in html
    assert "Gracias &lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html


def test_a_long_transcript_shows_the_last_500_messages_with_a_note(admin_client_, three_mappings):
    start = timezone.now() - timedelta(days=1)
    Message.objects.bulk_create(
        Message(
            user_phone=LEGACY,
            direction="in",
            origin="user",
            status="received",
            body=f"mensaje {i}",
            created_at=start + timedelta(seconds=i),
        )
        for i in range(520)
    )

    response = admin_client_.get(change_url(LEGACY))

    bodies = [row.message.body for row in response.context["transcript"]]
    assert len(bodies) == 500
    assert (bodies[0], bodies[-1]) == ("mensaje 20", "mensaje 519")
    assert "Showing the last 500 of 520 messages" in response.content.decode()


def test_change_page_is_read_only_even_for_a_superuser(admin_client_, three_mappings):
    response = admin_client_.get(change_url(PHONE))
    html = response.content.decode()

    assert 'name="thread_id"' not in html
    assert 'name="_save"' not in html
    assert admin_client_.post(change_url(PHONE), {"thread_id": "conv_hacked"}).status_code == 403
    assert repository.get_thread_id(PHONE) == "conv_ana"


def test_no_one_adds_or_deletes_mappings_by_hand(admin_client_, three_mappings):
    assert admin_client_.get(reverse("admin:threads_oathreadmap_add")).status_code == 403
    assert admin_client_.get(reverse("admin:threads_oathreadmap_delete", args=[quote(PHONE)])).status_code == 403
    actions = dict(admin_client_.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions
    assert {"reset_threads", "pause_bot", "resume_bot", "send_message"} <= set(actions)


def test_change_page_links_to_the_staff_actions_for_this_user(admin_client_, three_mappings):
    html = admin_client_.get(change_url(PHONE)).content.decode()
    paused_html = admin_client_.get(change_url(OTHER)).content.decode()

    phone_query = "phone=whatsapp%3A%2B5215512345678"
    for name in ("send", "pause", "reset"):
        assert f"{action_url(name)}?{phone_query}" in html
    assert action_url("resume") not in html
    assert action_url("resume") in paused_html and action_url("pause") + "?" not in paused_html
    assert "The bot is paused for this user" in paused_html


# --- actions ----------------------------------------------------------------------------


def test_reset_action_asks_for_confirmation_before_deleting(admin_client_, three_mappings):
    response = admin_client_.post(CHANGELIST, {"action": "reset_threads", "_selected_action": [PHONE, OTHER]})

    assert response.status_code == 200
    assert response.templates[0].name == "admin/threads/oathreadmap/confirm_reset.html"
    html = response.content.decode()
    assert "conv_ana" in html and "conv_beto" in html
    assert 'name="delete_remote"' in html
    assert OaThreadMap.objects.count() == 3


def test_confirmed_reset_deletes_the_selected_mappings_and_tells_the_user(admin_client_, three_mappings):
    response = admin_client_.post(action_url("reset"), {"phone": [PHONE, OTHER], "confirm": "yes"}, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    assert list(OaThreadMap.objects.values_list("pk", flat=True)) == [LEGACY]
    assert any("Reset 2 threads" in m for m in user_messages(response))
    assert Message.objects.filter(user_phone=PHONE).count() == 2  # the transcript is kept


def test_reset_get_shows_the_confirmation_for_one_user_and_changes_nothing(admin_client_, three_mappings):
    response = admin_client_.get(action_url("reset"), {"phone": PHONE})

    assert response.status_code == 200
    assert response.context["phones"] == [PHONE]
    assert OaThreadMap.objects.filter(pk=PHONE).exists()


def test_reset_with_delete_remote_deletes_the_conversation_at_openai(admin_client_, fake_openai):
    conversation_id = fake_openai.client().conversations.create().id
    make_mapping(PHONE, conversation_id)

    response = admin_client_.post(
        action_url("reset"), {"phone": PHONE, "confirm": "yes", "delete_remote": "on"}, follow=True
    )

    assert conversation_id not in fake_openai.conversations
    assert not OaThreadMap.objects.exists()
    assert any("Deleted 1 remote conversation at OpenAI" in m for m in user_messages(response))


def test_reset_warns_when_the_remote_conversation_could_not_be_deleted(admin_client_, openai_off, three_mappings):
    response = admin_client_.post(
        action_url("reset"), {"phone": PHONE, "confirm": "yes", "delete_remote": "on"}, follow=True
    )

    assert not OaThreadMap.objects.filter(pk=PHONE).exists()
    assert any("Could not delete conv_ana" in m and "not configured" in m for m in user_messages(response))


def test_pause_and_resume_take_over_and_give_back_the_conversation(admin_client_, three_mappings):
    held = log(OTHER, "¿Me atienden?", status="held")

    paused = admin_client_.post(action_url("pause"), {"phone": [PHONE], "confirm": "yes"}, follow=True)
    resumed = admin_client_.post(action_url("resume"), {"phone": [OTHER], "confirm": "yes"}, follow=True)

    assert set(Contact.objects.filter(bot_paused=True).values_list("pk", flat=True)) == {PHONE}
    assert paused.redirect_chain[-1][0] == change_url(PHONE)
    assert any("Paused the bot for 1 user (0 already paused)" in m for m in user_messages(paused))
    assert any("stay held" in m for m in user_messages(resumed))
    held.refresh_from_db()
    assert held.status == Message.Status.HELD


def test_resume_confirmation_says_held_messages_stay_held(admin_client_, three_mappings):
    response = admin_client_.post(CHANGELIST, {"action": "resume_bot", "_selected_action": [OTHER]})

    assert response.status_code == 200
    assert "stay held" in response.content.decode()
    assert Contact.objects.get(pk=OTHER).bot_paused is True


def test_send_as_staff_shows_a_form_then_sends_and_logs_the_message(admin_client_, three_mappings, outbox, user_wrote):
    user_wrote(PHONE)
    form_page = admin_client_.get(action_url("send"), {"phone": PHONE})
    assert form_page.status_code == 200
    assert '<textarea name="text"' in form_page.content.decode()

    response = admin_client_.post(
        action_url("send"), {"phone": PHONE, "confirm": "yes", "text": "Hola Ana, soy del equipo."}, follow=True
    )

    assert [(m.to, m.body) for m in outbox] == [(PHONE, "Hola Ana, soy del equipo.")]
    sent = Message.objects.get(origin=Message.Origin.STAFF)
    assert (sent.user_phone, sent.staff_user, sent.direction) == (PHONE, admin_client_.user, "out")
    assert response.redirect_chain[-1][0] == change_url(PHONE)
    assert any("Sent the message to 1 user," in m for m in user_messages(response))
    assert '<span class="badge staff">STAFF</span> boss' in response.content.decode()


def test_send_to_several_users_from_the_changelist(admin_client_, three_mappings, outbox, user_wrote):
    user_wrote(PHONE)
    user_wrote(LEGACY)
    confirmation = admin_client_.post(CHANGELIST, {"action": "send_message", "_selected_action": [PHONE, LEGACY]})
    assert confirmation.templates[0].name == "admin/threads/oathreadmap/send_message.html"

    admin_client_.post(action_url("send"), {"phone": [PHONE, LEGACY], "confirm": "yes", "text": "Aviso"})

    assert sorted(m.to for m in outbox) == sorted([PHONE, LEGACY])


def test_send_without_text_shows_the_form_again_and_sends_nothing(admin_client_, three_mappings, outbox):
    response = admin_client_.post(action_url("send"), {"phone": PHONE, "confirm": "yes", "text": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors["text"]
    assert outbox == []
    assert not Message.objects.filter(origin=Message.Origin.STAFF).exists()


def test_actions_ignore_phones_without_a_mapping(admin_client_, three_mappings):
    response = admin_client_.post(action_url("pause"), {"phone": ["whatsapp:+5210000000000"], "confirm": "yes"})

    assert response.status_code == 302
    assert not Contact.objects.filter(pk="whatsapp:+5210000000000").exists()


def test_actions_are_written_to_the_admin_history(admin_client_, three_mappings):

    admin_client_.post(action_url("pause"), {"phone": [PHONE], "confirm": "yes"})
    admin_client_.post(action_url("reset"), {"phone": [OTHER], "confirm": "yes"})

    entries = {(e.object_id, e.action_flag, e.change_message) for e in LogEntry.objects.all()}
    assert (PHONE, 2, "Paused the bot (human takeover)") in entries
    assert any(object_id == OTHER and flag == 3 for object_id, flag, _ in entries)


def test_a_refused_send_is_not_written_to_the_admin_history(admin_client_, three_mappings, outbox, user_wrote):
    user_wrote(PHONE)  # OTHER never wrote: their 24-hour window is closed

    admin_client_.post(action_url("send"), {"phone": [PHONE, OTHER], "confirm": "yes", "text": "Aviso"})

    logged = set(LogEntry.objects.filter(change_message="Sent a WhatsApp message as staff").values_list("object_id"))
    assert logged == {(PHONE,)}


def test_a_refused_template_is_not_written_to_the_admin_history(admin_client_, three_mappings, outbox):
    from django.utils import timezone

    from threads.models import MessageTemplate

    MessageTemplate.objects.create(name="aviso", content_sid="HX" + "a" * 32, body="Hola", active=True)
    Contact.objects.update_or_create(user_phone=OTHER, defaults={"opted_out_at": timezone.now()})

    admin_client_.post(action_url("template"), {"phone": [PHONE, OTHER], "template": "aviso", "confirm": "yes"})

    logged = set(LogEntry.objects.filter(change_message="Sent the WhatsApp template aviso").values_list("object_id"))
    assert logged == {(PHONE,)}


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        CHANGELIST,
        change_url(PHONE),
        action_url("reset"),
        action_url("send"),
        STATS,
        reverse("admin:threads_turn_changelist"),
    ],
)
def test_a_non_staff_user_is_sent_to_the_login_page(outsider_client, three_mappings, url):
    response = outsider_client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_read_only_staff_can_browse_and_search(viewer_client, conversation):
    assert viewer_client.get(CHANGELIST, {"q": "beto"}).status_code == 200
    page = viewer_client.get(change_url(PHONE))
    assert page.status_code == 200
    assert "Te escribe Carla del equipo." in page.content.decode()


def test_read_only_staff_see_no_actions_and_no_action_links(viewer_client, three_mappings):
    listing = viewer_client.get(CHANGELIST)
    page = viewer_client.get(change_url(PHONE)).content.decode()

    assert listing.context["action_form"] is None
    for name in ("reset", "pause", "resume", "send"):
        assert action_url(name) not in page


@pytest.mark.parametrize("name", ["reset", "pause", "resume", "send"])
def test_read_only_staff_are_refused_every_action_with_403(viewer_client, three_mappings, outbox, name):
    get = viewer_client.get(action_url(name), {"phone": PHONE})
    post = viewer_client.post(
        action_url(name), {"phone": [PHONE, OTHER], "confirm": "yes", "text": "hola", "delete_remote": "on"}
    )

    assert (get.status_code, post.status_code) == (403, 403)
    assert OaThreadMap.objects.count() == 3
    assert Contact.objects.get(pk=OTHER).bot_paused is True
    assert not Contact.objects.filter(pk=PHONE, bot_paused=True).exists()
    assert outbox == []


def test_read_only_staff_cannot_run_an_action_through_the_changelist(viewer_client, three_mappings):
    viewer_client.post(CHANGELIST, {"action": "reset_threads", "_selected_action": [PHONE]})

    assert OaThreadMap.objects.filter(pk=PHONE).exists()


def test_each_action_needs_its_own_permission(pauser_client, three_mappings, outbox):
    actions = dict(pauser_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert {"pause_bot", "resume_bot"} <= set(actions)
    assert not {"reset_threads", "send_message"} & set(actions)

    assert pauser_client.post(action_url("pause"), {"phone": PHONE, "confirm": "yes"}).status_code == 302
    assert pauser_client.post(action_url("reset"), {"phone": PHONE, "confirm": "yes"}).status_code == 403
    assert pauser_client.post(action_url("send"), {"phone": PHONE, "confirm": "yes", "text": "x"}).status_code == 403
    assert Contact.objects.get(pk=PHONE).bot_paused is True
    assert OaThreadMap.objects.filter(pk=PHONE).exists()
    assert outbox == []


# --- the log admins and contacts --------------------------------------------------------


def test_message_log_is_searchable_by_sid_and_filterable_but_read_only(admin_client_, conversation):
    changelist = reverse("admin:threads_message_changelist")
    staff_message = Message.objects.get(origin="staff")

    by_sid = admin_client_.get(changelist, {"q": staff_message.twilio_sid})
    by_origin = admin_client_.get(changelist, {"origin__exact": "staff"})
    by_day = admin_client_.get(changelist, {"created_at__year": timezone.now().year})

    assert shown(by_sid) == [staff_message.pk]
    assert shown(by_origin) == [staff_message.pk]
    assert by_day.status_code == 200 and len(shown(by_day)) == Message.objects.count()
    assert admin_client_.get(reverse("admin:threads_message_add")).status_code == 403
    page = admin_client_.get(reverse("admin:threads_message_change", args=[staff_message.pk])).content.decode()
    assert 'name="body"' not in page


def test_turns_are_filterable_by_status_and_show_their_tools_on_their_page(admin_client_, conversation):
    turn, failed_turn = conversation

    response = admin_client_.get(reverse("admin:threads_turn_changelist"), {"status__exact": "fallback"})

    assert shown(response) == [failed_turn.pk]
    page = admin_client_.get(reverse("admin:threads_turn_change", args=[turn.pk])).content.decode()
    assert "buscar_curso (40 ms), detalle_curso (failed, 9 ms)" in page
    assert admin_client_.get(reverse("admin:threads_turn_add")).status_code == 403


def test_the_contact_list_toggles_the_pause(admin_client_, three_mappings):
    response = admin_client_.post(
        reverse("admin:threads_contact_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-user_phone": PHONE,
            "form-0-bot_paused": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert Contact.objects.get(pk=PHONE).bot_paused is True


def test_read_only_staff_cannot_toggle_the_pause_on_contacts(viewer_client, three_mappings, django_user_model):
    viewer = django_user_model.objects.get(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="threads", codename="view_contact"))

    page = viewer_client.get(reverse("admin:threads_contact_changelist"))
    posted = viewer_client.post(reverse("admin:threads_contact_change", args=[quote(PHONE)]), {"bot_paused": "on"})

    assert 'name="form-0-bot_paused"' not in page.content.decode()
    assert posted.status_code == 403
    assert Contact.objects.get(pk=PHONE).bot_paused is False


# --- statistics -------------------------------------------------------------------------


def test_stats_page_shows_numbers_and_charts(admin_client_, conversation):
    response = admin_client_.get(STATS)

    assert response.status_code == 200
    assert response.context["days"] == 14
    html = response.content.decode()
    assert '<b id="stat-messages-in">5</b>' in html  # 2 + 3 in, the held one included
    assert '<b id="stat-messages-out">4</b>' in html
    assert '<b id="stat-delivery-failures">1</b>' in html
    assert '<b id="stat-fallback-rate">50%</b>' in html
    assert html.count('class="brenda-chart"') == 5
    assert "buscar_curso" in html


@pytest.mark.parametrize(
    ("query", "days"), [({"days": "7"}, 7), ({"days": "30"}, 30), ({"days": "9999"}, 14), ({"days": "x"}, 14)]
)
def test_stats_period_is_chosen_from_7_14_or_30_days(admin_client_, query, days):
    response = admin_client_.get(STATS, query)

    assert response.status_code == 200
    assert response.context["days"] == days
    assert len(response.context["stats"].per_day) == days
    assert ("Unknown period" in response.content.decode()) is (str(days) != query["days"])


def test_stats_page_renders_with_no_data(admin_client_):
    response = admin_client_.get(STATS)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="brenda-chart"') == 5
    assert html.count("No data") == 2  # latency and tools; days with zero messages or cost are drawn as zeros
    assert "No tool calls in this period." in html
    assert '<b id="stat-cost">$0.00</b>' in html
    assert '<b id="stat-cost-p50">—</b>' in html and '<b id="stat-cached-share">—</b>' in html
    assert "No priced turns in this period." in html


def test_stats_page_needs_permission_to_view_mappings(client, django_user_model, viewer_client):
    assert viewer_client.get(STATS).status_code == 200
    bare_staff = django_user_model.objects.create_user("bare", is_staff=True)
    client.force_login(bare_staff)

    assert client.get(STATS).status_code == 403


def test_the_admin_index_links_to_the_stats_page(viewer_client):
    assert STATS in viewer_client.get(reverse("admin:index")).content.decode()
    assert STATS in viewer_client.get(reverse("admin:app_list", args=["threads"])).content.decode()


def test_sending_to_more_than_fifty_users_at_once_is_refused(admin_client_, outbox):
    _fill(51)

    response = admin_client_.post(
        CHANGELIST,
        {"action": "send_message", "_selected_action": list(OaThreadMap.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert response.templates[0].name == "admin/threads/change_list.html"  # back on the list
    assert any("Select at most 50 users" in m for m in user_messages(response))
    assert outbox == []


def test_contacts_link_to_their_conversation_even_without_a_thread_mapping(admin_client):
    from threads.models import Contact

    Contact.objects.create(user_phone="whatsapp:+5215500001111", profile_name="Sin hilo")

    page = admin_client.get(reverse("admin:threads_contact_changelist")).content.decode()

    assert "/admin/threads/message/?q=whatsapp%3A%2B5215500001111" in page


# --- money, limits and price checks -----------------------------------------------------

TURNS = reverse("admin:threads_turn_changelist")
CONTACTS = reverse("admin:threads_contact_changelist")


@pytest.fixture
def costly_turns(three_mappings):
    """Priced turns of two users, one of a model without price, a limited one and price-checked ones."""
    usage = {"model": "gpt-6-luna", "engine": "responses", "status": "completed", "latency_ms": 900}
    cheap = Turn.objects.create(
        user_phone=PHONE,
        input_tokens=1000,
        cached_input_tokens=250,
        output_tokens=120,
        reasoning_tokens=20,
        cost_usd=Decimal("0.000123"),
        price_checks=[
            {"found": ["$999 MXN"], "wrong": ["$999 MXN"], "action": "asked_again"},
            {"found": ["$1,200 MXN"], "wrong": [], "action": "corrected"},
        ],
        **usage,
    )
    dear = Turn.objects.create(
        user_phone=OTHER,
        input_tokens=3000,
        cached_input_tokens=750,
        output_tokens=300,
        reasoning_tokens=0,
        cost_usd=Decimal("0.0121"),
        price_checks=[{"found": ["$5 <b>"], "wrong": ["$5 <b>"], "action": "removed"}],
        **usage,
    )
    unpriced = Turn.objects.create(
        user_phone=PHONE, model="gpt-unpriced", status="completed", input_tokens=10, output_tokens=2
    )
    limited = Turn.objects.create(
        user_phone=PHONE, status="fallback", fallback_used=True, fallback_reason="limit_user_cost", latency_ms=5
    )
    log(PHONE, "¿Cuánto cuesta?", minutes_ago=3, turn=cheap)
    log(PHONE, "Cuesta $1,200 MXN.", direction="out", minutes_ago=3, turn=cheap)
    log(PHONE, "¿Y el otro?", minutes_ago=2, turn=limited)
    log(OTHER, "¿Precio?", minutes_ago=1, turn=dear)
    return {"cheap": cheap, "dear": dear, "unpriced": unpriced, "limited": limited}


def test_stats_page_shows_money_tokens_limits_and_price_checks(admin_client_, costly_turns):
    response = admin_client_.get(STATS)

    html = response.content.decode()
    assert '<b id="stat-cost">$0.012223</b>' in html  # 0.000123 + 0.0121
    assert '<b id="stat-cost-p50">$0.000123</b>' in html
    assert '<b id="stat-cost-p95">$0.0121</b>' in html
    assert '<b id="stat-cached-share">25%</b>' in html  # 1000 of 4010 input tokens
    assert '<b id="stat-unpriced-turns">1</b>' in html
    assert '<b id="stat-input-tokens">4,010</b>' in html
    assert '<b id="stat-output-tokens">422</b>' in html
    assert '<b id="stat-limited-turns">1</b>' in html
    assert '<td title="limit_user_cost">per-user cost limit</td><td class="number">1</td>' in html
    assert '<td id="stat-price-checked">2</td>' in html
    assert '<td id="stat-price-wrong">2</td>' in html
    assert '<td id="stat-price-corrected">1</td>' in html
    assert '<td id="stat-price-removed">1</td>' in html
    assert '<td id="stat-price-replaced">0</td>' in html
    assert "Cost per day (US cents)" in html


def test_a_costly_period_is_charted_and_shown_in_dollars(admin_client_):
    Turn.objects.create(user_phone=PHONE, model="gpt-6-sol", status="completed", cost_usd=Decimal("1234.5"))

    html = admin_client_.get(STATS).content.decode()

    assert '<b id="stat-cost">$1,234.50</b>' in html
    assert "Cost per day (USD)" in html


def test_stats_page_lists_the_most_expensive_users_linked_to_their_conversation(admin_client_, costly_turns):
    response = admin_client_.get(STATS)

    top_users = response.context["stats"].top_users
    assert [(u.user_phone, u.profile_name, u.turns) for u in top_users] == [(OTHER, "Beto", 1), (PHONE, "Ana López", 3)]
    html = response.content.decode()
    table = html[html.index('id="brenda-top-users"') :]
    assert table.index("Beto") < table.index("Ana López")
    assert f"{reverse('admin:threads_message_changelist')}?q=whatsapp%3A%2B5213398765432" in table
    assert "$0.0121" in table


def turn_row(html: str, turn: Turn) -> str:
    """The changelist row of a turn (its link goes to the turn's page)."""
    return html[html.index(reverse("admin:threads_turn_change", args=[turn.pk])) :].split("</tr>")[0]


def test_turn_list_shows_model_tokens_cost_and_flags_only_when_raised(admin_client_, costly_turns):
    response = admin_client_.get(TURNS)

    assert response.status_code == 200
    html = response.content.decode()
    for column in ("column-started", "column-status_and_flags", "column-model_and_tokens", "column-cost"):
        assert column in html
    assert "$0.000123" in html and "$0.0121" in html
    unpriced_row = turn_row(html, costly_turns["unpriced"])
    assert '<td class="field-cost">—</td>' in unpriced_row  # a model with no price
    assert "badge" not in unpriced_row  # nothing stands out: no flag at all
    limited_row = turn_row(html, costly_turns["limited"])
    assert '<td class="field-cost">$0.00</td>' in limited_row  # never sent to the model
    assert 'class="badge limited"' in limited_row and "per-user cost limit" in limited_row
    cheap_row = turn_row(html, costly_turns["cheap"])
    assert "gpt-6-luna" in cheap_row and "1,000 / 120" in cheap_row
    assert 'class="badge price-wrong"' in cheap_row and "badge limited" not in cheap_row
    assert "icon-no" not in html  # no red cross on every normal row


def test_turn_list_links_each_user_to_their_conversation(admin_client_, costly_turns):
    Turn.objects.create(user_phone="whatsapp:+5215500001111", status="completed")

    html = admin_client_.get(TURNS).content.decode()

    assert f'<a href="{change_url(PHONE)}" title="{PHONE}">+5215512345678</a>' in html
    assert "/admin/threads/message/?q=whatsapp%3A%2B5215500001111" in html  # no mapping: the message log


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"fallback_reason": "limit_user_cost"}, ["limited"]),
        ({"model": "gpt-unpriced"}, ["unpriced"]),
        ({"model": "gpt-6-luna"}, ["dear", "cheap"]),
    ],
)
def test_turns_are_filterable_by_fallback_reason_and_model(admin_client_, costly_turns, params, expected):
    response = admin_client_.get(TURNS, params)

    assert response.status_code == 200
    assert sorted(shown(response)) == sorted(costly_turns[name].pk for name in expected)


def test_turn_detail_shows_tokens_cost_reason_and_price_checks_read_only(admin_client_, costly_turns):
    cheap, dear = costly_turns["cheap"], costly_turns["dear"]

    html = admin_client_.get(reverse("admin:threads_turn_change", args=[cheap.pk])).content.decode()
    dear_html = admin_client_.get(reverse("admin:threads_turn_change", args=[dear.pk])).content.decode()

    for label in ("Input tokens", "Cached input tokens", "Output tokens", "Reasoning tokens", "Fallback reason"):
        assert label in html
    assert "$0.000123" in html
    assert "25%" in html  # cached share
    assert '<span class="badge price-wrong">wrong: $999 MXN</span> → asked again' in html
    assert '<span class="badge price-ok">corrected: $1,200 MXN</span>' in html
    assert "wrong: $5 &lt;b&gt;</span> → wrong sentences removed" in dear_html
    assert 'name="_save"' not in html
    assert admin_client_.post(reverse("admin:threads_turn_change", args=[cheap.pk]), {}).status_code == 403


def test_transcript_shows_cost_cached_share_limits_and_price_checks(admin_client_, costly_turns):
    html = admin_client_.get(change_url(PHONE)).content.decode()

    assert "tokens 1,000 in / 120 out (25% cached)" in html
    assert "$0.000123" in html
    assert '<span class="badge limited">LIMIT</span> per-user cost limit' in html

    other_html = admin_client_.get(change_url(OTHER)).content.decode()
    assert "wrong: $5 &lt;b&gt;</span> → wrong sentences removed" in other_html
    assert "LIMIT</span>" not in other_html


# --- lifting a user's daily limits ---------------------------------------------------------


@pytest.fixture
def contact_viewer_client(django_user_model):
    """Staff who may see contacts but neither pause the bot nor lift limits."""
    user = django_user_model.objects.create_user("contacts", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="threads", codename="view_contact"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def contact_pauser_client(django_user_model):
    """Staff with the pause permission: it is the one that lets them lift a user's daily limits."""
    user = django_user_model.objects.create_user("lifter", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="threads", codename__in=["view_contact", "pause_bot"])
    )
    client = Client()
    client.force_login(user)
    return client


def test_lift_action_starts_the_users_daily_count_afresh(contact_pauser_client, costly_turns):
    before = timezone.now()

    response = contact_pauser_client.post(
        CONTACTS, {"action": "lift_daily_limits", "_selected_action": [PHONE, OTHER]}, follow=True
    )

    assert response.status_code == 200
    assert any("Lifted the daily limits of 2 users:" in m for m in user_messages(response))
    contacts = Contact.objects.filter(pk__in=[PHONE, OTHER])
    assert all(contact.limits_reset_at >= before for contact in contacts)
    assert LogEntry.objects.filter(object_id=PHONE, change_message="Lifted the daily limits").exists()


def test_staff_without_the_pause_permission_cannot_lift_limits(contact_viewer_client, costly_turns):
    listing = contact_viewer_client.get(CONTACTS)
    assert listing.status_code == 200
    assert listing.context["action_form"] is None

    contact_viewer_client.post(CONTACTS, {"action": "lift_daily_limits", "_selected_action": [PHONE]})

    assert Contact.objects.get(pk=PHONE).limits_reset_at is None


def test_contact_shows_when_limits_were_lifted_and_the_spend_that_counts(admin_client_, costly_turns):
    url = reverse("admin:threads_contact_change", args=[quote(PHONE)])
    html = admin_client_.get(url).content.decode()
    # the priced and the unpriced turn asked the model; the limited one did not
    assert "2 model turns, $0.000123 since" in html

    admin_client_.post(CONTACTS, {"action": "lift_daily_limits", "_selected_action": [PHONE]})
    lifted_html = admin_client_.get(url).content.decode()
    listing = admin_client_.get(CONTACTS).content.decode()

    assert "0 model turns, $0.00 since" in lifted_html
    assert "column-limits_reset" in listing
    reset_field = lifted_html[lifted_html.index("field-limits_reset_at") :].split("</div>\n</div>")[0]
    assert str(timezone.localdate().year) in reset_field


# --- how money, dates, price checks and tools read -------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),  # unknown price
        (Decimal(0), "$0.00"),
        (Decimal("0.000123"), "$0.000123"),
        (Decimal("0.0121"), "$0.0121"),  # up to six decimals below a dollar, no trailing zeros
        (Decimal("0.5"), "$0.50"),
        (Decimal("0.00000049"), "< $0.000001"),  # never a misleading $0.00 for a real cost
        (Decimal("0.9999996"), "$1.00"),
        (Decimal("1"), "$1.00"),  # from a dollar up: cents, with thousands separators
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("1234567.891"), "$1,234,567.89"),
    ],
)
def test_money_is_shown_with_a_precision_that_follows_its_magnitude(value, shown):
    assert format_usd(value) == shown


def test_transcript_words_each_price_check_and_marks_wrong_amounts_as_wrong(admin_client_, three_mappings):
    turn = Turn.objects.create(
        user_phone=PHONE,
        model="gpt-6-luna",
        status="fallback",
        fallback_used=True,
        fallback_reason="price_check",
        price_checks=[
            {"found": ["$4,590 MXN"], "wrong": [], "action": "passed"},
            {"found": ["$3,990 MXN"], "wrong": ["$3,990 MXN"], "action": "asked_again"},
            {"found": ["$4,590 MXN"], "wrong": [], "action": "corrected"},
            {"found": ["$1 MXN", "$2 MXN"], "wrong": ["$1 MXN", "$2 MXN"], "action": "removed"},
            {"found": ["$9 MXN"], "wrong": ["$9 MXN"], "action": "replaced"},
        ],
    )
    log(PHONE, "¿Cuánto cuesta?", minutes_ago=1, turn=turn)

    html = admin_client_.get(change_url(PHONE)).content.decode()
    record = html[html.index(f'id="turn-{turn.pk}"') :].split("</tr>")[0]

    assert '<span class="badge price-passed">passed: $4,590 MXN</span>' in record
    assert '<span class="badge price-wrong">wrong: $3,990 MXN</span> → asked again' in record
    assert '<span class="badge price-ok">corrected: $4,590 MXN</span>' in record
    assert '<span class="badge price-wrong">wrong: $1 MXN, $2 MXN</span> → wrong sentences removed' in record
    assert '<span class="badge price-wrong">wrong: $9 MXN</span> → reply replaced' in record
    assert "(price check replaced the reply)" in record  # the fallback reason in staff's words
    assert "precio" not in record  # the admin is English; only what the bot says is Spanish


def test_the_turn_page_words_price_checks_as_the_transcript_does(admin_client_, costly_turns):
    url = reverse("admin:threads_turn_change", args=[costly_turns["cheap"].pk])

    page = admin_client_.get(url).content.decode()
    transcript = admin_client_.get(change_url(PHONE)).content.decode()

    for shown in (
        '<span class="badge price-wrong">wrong: $999 MXN</span> → asked again',
        '<span class="badge price-ok">corrected: $1,200 MXN</span>',
    ):
        assert shown in page and shown in transcript


def test_last_message_and_transcript_times_are_dates_in_the_current_time_zone(admin_client_, three_mappings, settings):
    settings.TIME_ZONE = "America/Mexico_City"  # UTC-6 in December
    when = datetime(2026, 12, 2, 16, 37, 35, 256749, tzinfo=UTC)
    Message.objects.filter(user_phone=PHONE).update(created_at=when - timedelta(hours=1))
    Message.objects.filter(pk=log(PHONE, "¿Siguen ahí?").pk).update(created_at=when)

    html = admin_client_.get(change_url(PHONE)).content.decode()
    listing = admin_client_.get(CHANGELIST).content.decode()

    last_message = html[html.index("field-last_message_at") :].split("</div>\n</div>")[0]
    assert "Dec. 2, 2026, 10:37 a.m." in last_message
    assert "2026-12-02" not in last_message and "+00:00" not in last_message
    assert "Dec. 2, 2026, 10:37 a.m." in listing
    assert "Time (CST)" in html
    assert "Dec. 2, 2026, 10:37:35 a.m." in html  # transcript rows keep the seconds


def test_a_mapping_without_messages_shows_the_empty_marker_for_its_last_message(admin_client_, three_mappings):
    html = admin_client_.get(change_url(LEGACY)).content.decode()

    last_message = html[html.index("field-last_message_at") :].split("</div>\n</div>")[0]
    assert '<div class="readonly">—</div>' in last_message


def test_turn_page_renders_tool_calls_state_times_and_labels(admin_client_, three_mappings, settings):
    settings.TIME_ZONE = "UTC"  # the times below are read in UTC (the default zone is America/Mexico_City)
    started = datetime(2026, 12, 2, 16, 37, 27, tzinfo=UTC)
    turn = Turn.objects.create(
        user_phone=PHONE,
        status="completed",
        started_at=started,
        finished_at=started + timedelta(seconds=8),
        latency_ms=7605,
        openai_calls=2,
        input_tokens=12345,
        tool_calls=[
            {"name": "buscar_curso", "ok": True, "ms": 4},
            {"name": "detalle_curso", "ok": False, "ms": 12},
            {"name": "buscar_curso", "ok": True},
        ],
        state={"pending_response": "resp_<1>", "attempt": 2},
    )
    plain = Turn.objects.create(user_phone=PHONE, status="completed")

    html = admin_client_.get(reverse("admin:threads_turn_change", args=[turn.pk])).content.decode()
    plain_html = admin_client_.get(reverse("admin:threads_turn_change", args=[plain.pk])).content.decode()

    assert "buscar_curso (4 ms), detalle_curso (failed, 12 ms), buscar_curso" in html
    assert '"name"' not in html  # no raw JSON
    assert "<li><code>pending_response</code>: resp_&lt;1&gt;</li>" in html
    assert "<li><code>attempt</code>: 2</li>" in html
    assert "Dec. 2, 2026, 4:37:27 p.m." in html and "Dec. 2, 2026, 4:37:35 p.m." in html
    assert "OpenAI requests" in html and "Openai calls" not in html
    assert "7,605 ms" in html and "Latency ms" not in html
    assert "12,345" in html
    assert f'<a href="{change_url(PHONE)}">conversation</a>' in html
    assert "field-state_display" in html and "field-state_display" not in plain_html  # no state, no field


def test_stats_page_names_limits_and_fallback_reasons_and_counts_in_words(admin_client_, costly_turns):
    Turn.objects.create(user_phone=PHONE, status="fallback", fallback_used=True, fallback_reason="timeout")
    Turn.objects.create(user_phone=PHONE, status="fallback", fallback_used=True, fallback_reason="openai_error")

    html = admin_client_.get(STATS).content.decode()

    limits = html[html.index('id="brenda-limited"') :].split("</table>")[0]
    assert "per-user cost limit" in limits and "limit_user_cost</td>" not in limits
    reasons = html[html.index('id="brenda-fallback-reasons"') :].split("</table>")[0]
    for label in ("OpenAI timeout", "OpenAI error", "per-user cost limit"):
        assert label in reasons
    assert '<b id="stat-unpriced-turns">1</b>turn of unknown cost' in html
    assert '<b id="stat-limited-turns">1</b>turn kept from the model by a budget' in html
    price_checks = html[html.index('id="brenda-price-checks"') :].split("</table>")[0]
    for label in ("Asked again", "Corrected", "Wrong sentences removed", "Reply replaced"):
        assert f'<th scope="row">{label}</th>' in price_checks


def test_stats_page_shows_latency_with_thousands_separators(admin_client_):
    Turn.objects.create(user_phone=PHONE, status="completed", latency_ms=12_345)

    html = admin_client_.get(STATS).content.decode()

    assert '<b id="stat-latency-p50">12,345 ms</b>' in html


def test_lifting_one_users_limits_says_user_not_users(contact_pauser_client, costly_turns):
    response = contact_pauser_client.post(
        CONTACTS, {"action": "lift_daily_limits", "_selected_action": [PHONE]}, follow=True
    )

    assert any(m.startswith("Lifted the daily limits of 1 user:") for m in user_messages(response))


def test_message_list_cuts_long_bodies(admin_client_, three_mappings):
    log(PHONE, "palabra " * 30)

    html = admin_client_.get(reverse("admin:threads_message_changelist")).content.decode()

    assert '<span class="brenda-body">' + ("palabra " * 10)[:79] + "…</span>" in html
