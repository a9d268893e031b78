"""The staff side in the admin through the test client: as superuser, read-only staff and non-staff users."""

from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from threads import repository
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
    assert "1234 ms" in html
    assert "buscar_curso, detalle_curso (failed)" in html
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
    assert any("Reset 2 thread(s)" in m for m in user_messages(response))
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
    assert any("Deleted 1 remote conversation(s)" in m for m in user_messages(response))


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
    assert any("Paused the bot for 1 user(s)" in m for m in user_messages(paused))
    assert any("stay held" in m for m in user_messages(resumed))
    held.refresh_from_db()
    assert held.status == Message.Status.HELD


def test_resume_confirmation_says_held_messages_stay_held(admin_client_, three_mappings):
    response = admin_client_.post(CHANGELIST, {"action": "resume_bot", "_selected_action": [OTHER]})

    assert response.status_code == 200
    assert "stay held" in response.content.decode()
    assert Contact.objects.get(pk=OTHER).bot_paused is True


def test_send_as_staff_shows_a_form_then_sends_and_logs_the_message(admin_client_, three_mappings, outbox):
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
    assert any("Sent the message to 1 user(s)" in m for m in user_messages(response))
    assert '<span class="badge staff">STAFF</span> boss' in response.content.decode()


def test_send_to_several_users_from_the_changelist(admin_client_, three_mappings, outbox):
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
    from django.contrib.admin.models import LogEntry

    admin_client_.post(action_url("pause"), {"phone": [PHONE], "confirm": "yes"})
    admin_client_.post(action_url("reset"), {"phone": [OTHER], "confirm": "yes"})

    entries = {(e.object_id, e.action_flag, e.change_message) for e in LogEntry.objects.all()}
    assert (PHONE, 2, "Paused the bot (human takeover)") in entries
    assert any(object_id == OTHER and flag == 3 for object_id, flag, _ in entries)


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


def test_turns_are_listed_with_their_tools_and_filterable_by_status(admin_client_, conversation):
    _, failed_turn = conversation

    response = admin_client_.get(reverse("admin:threads_turn_changelist"), {"status__exact": "fallback"})

    assert shown(response) == [failed_turn.pk]
    listing = admin_client_.get(reverse("admin:threads_turn_changelist"), {"q": PHONE}).content.decode()
    assert "buscar_curso, detalle_curso" in listing
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
    assert html.count('class="brenda-chart"') == 4
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
    assert html.count('class="brenda-chart"') == 4
    assert html.count("No data") == 2  # latency and tools; days with zero messages are drawn as zeros
    assert "No tool calls in this period." in html


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

    assert response.templates[0].name == "admin/change_list.html"
    assert any("Select at most 50 users" in m for m in user_messages(response))
    assert outbox == []


def test_contacts_link_to_their_conversation_even_without_a_thread_mapping(admin_client):
    from threads.models import Contact

    Contact.objects.create(user_phone="whatsapp:+5215500001111", profile_name="Sin hilo")

    page = admin_client.get(reverse("admin:threads_contact_changelist")).content.decode()

    assert "/admin/threads/message/?q=whatsapp%3A%2B5215500001111" in page
