"""The permission matrix of every staff view: each one answers exactly the permissions it needs, and a refusal
reveals nothing about the phones (no name, thread id, or whether a mapping exists).

Each view is requested by staff users holding one permission, or one action permission with the view
permission it goes with; the expected answer comes from the view's declared requirements, so a view that
lets one more permission in (or keeps a needed one out) fails with the whole row of the matrix.
"""

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from threads import repository
from threads.models import Contact, Message, OaThreadMap, Turn

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
UNMAPPED = "whatsapp:+5215599999999"
NAME = "Ana Secreta"
THREAD = "conv_secret0123456789"
SECRETS = ("5215512345678", NAME, THREAD)

VIEW_MAPPINGS = "view_oathreadmap"
VIEW_CONTACTS = "view_contact"
RESET, PAUSE, SEND = "reset_thread", "pause_bot", "send_staff_message"

# Who holds what: every permission alone, and each action permission with the view permission it needs.
HOLDERS = {
    "nothing": set(),
    VIEW_MAPPINGS: {VIEW_MAPPINGS},
    VIEW_CONTACTS: {VIEW_CONTACTS},
    "view_turn": {"view_turn"},
    "view_message": {"view_message"},
    RESET: {RESET},
    PAUSE: {PAUSE},
    SEND: {SEND},
    f"{VIEW_MAPPINGS}+{RESET}": {VIEW_MAPPINGS, RESET},
    f"{VIEW_MAPPINGS}+{PAUSE}": {VIEW_MAPPINGS, PAUSE},
    f"{VIEW_MAPPINGS}+{SEND}": {VIEW_MAPPINGS, SEND},
    f"{VIEW_CONTACTS}+{PAUSE}": {VIEW_CONTACTS, PAUSE},
    f"{SEND}+{PAUSE}+{RESET}": {SEND, PAUSE, RESET},
}


def action(name: str) -> str:
    return reverse(f"admin:threads_oathreadmap_{name}")


# view -> (method, url builder, data, the permissions it needs). Action views are asked without "confirm":
# an allowed request renders the confirmation page and changes nothing.
VIEWS = {
    "mapping list": ("get", lambda ids: reverse("admin:threads_oathreadmap_changelist"), {}, {VIEW_MAPPINGS}),
    "transcript": (
        "get",
        lambda ids: reverse("admin:threads_oathreadmap_change", args=[quote(PHONE)]),
        {},
        {VIEW_MAPPINGS},
    ),
    "stats": ("get", lambda ids: reverse("threads_stats"), {}, {VIEW_MAPPINGS}),
    **{
        f"{name} form": ("get", lambda ids, name=name: action(name), {"phone": PHONE}, {VIEW_MAPPINGS, needs})
        for name, needs in (("reset", RESET), ("pause", PAUSE), ("resume", PAUSE), ("send", SEND))
    },
    **{
        f"{name} post": (
            "post",
            lambda ids, name=name: action(name),
            {"phone": PHONE, "text": "x"},
            {VIEW_MAPPINGS, needs},
        )
        for name, needs in (("reset", RESET), ("pause", PAUSE), ("send", SEND))
    },
    "contact list": ("get", lambda ids: reverse("admin:threads_contact_changelist"), {}, {VIEW_CONTACTS}),
    "contact page": (
        "get",
        lambda ids: reverse("admin:threads_contact_change", args=[quote(PHONE)]),
        {},
        {VIEW_CONTACTS},
    ),
    "turn list": ("get", lambda ids: reverse("admin:threads_turn_changelist"), {}, {"view_turn"}),
    "turn page": ("get", lambda ids: reverse("admin:threads_turn_change", args=[ids["turn"]]), {}, {"view_turn"}),
    "message list": ("get", lambda ids: reverse("admin:threads_message_changelist"), {}, {"view_message"}),
    "message page": (
        "get",
        lambda ids: reverse("admin:threads_message_change", args=[ids["message"]]),
        {},
        {"view_message"},
    ),
}


@pytest.fixture
def conversation():
    repository.save_thread_id(PHONE, THREAD)
    Contact.objects.create(user_phone=PHONE, profile_name=NAME)
    turn = Turn.objects.create(user_phone=PHONE, engine="responses", status=Turn.Status.COMPLETED)
    message = Message.objects.create(
        user_phone=PHONE, direction="in", origin="user", status="received", body="hola", twilio_sid="SM" + "1" * 32
    )
    return {"turn": turn.pk, "message": message.pk}


@pytest.fixture
def clients(django_user_model):
    made = {}
    for label, codenames in HOLDERS.items():
        user = django_user_model.objects.create_user(label.replace("+", "_")[:150], is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="threads", codename__in=codenames))
        client = Client()
        client.force_login(user)
        made[label] = client
    return made


def request(client: Client, method: str, url: str, data: dict):
    return client.get(url, data) if method == "get" else client.post(url, data)


@pytest.mark.parametrize("view", list(VIEWS))
def test_each_staff_view_answers_exactly_the_permissions_it_needs(clients, conversation, outbox, view):
    method, url_of, data, needs = VIEWS[view]
    url = url_of(conversation)
    wrong = []
    for label, client in clients.items():
        response = request(client, method, url, data)
        allowed = needs <= HOLDERS[label]
        body = response.content.decode(errors="replace")
        if allowed and response.status_code != 200:
            wrong.append(f"{label}: {response.status_code}, expected 200")
        elif not allowed and response.status_code != 403:
            wrong.append(f"{label}: {response.status_code}, expected 403")
        elif not allowed and any(secret in body for secret in SECRETS):
            wrong.append(f"{label}: the refusal shows the phone, name or thread id")

    assert wrong == [], f"{view}: " + "; ".join(wrong)
    assert outbox == []
    assert OaThreadMap.objects.filter(pk=PHONE).exists()


@pytest.mark.parametrize("label", [SEND, PAUSE, RESET, f"{SEND}+{PAUSE}+{RESET}"])
@pytest.mark.parametrize("name", ["reset", "pause", "resume", "send"])
def test_action_permissions_without_the_view_permission_cannot_tell_mapped_phones_from_others(
    clients, conversation, outbox, label, name
):
    """A confirmed POST is refused the same way for a mapped phone and an unmapped one, and does nothing."""
    client = clients[label]
    confirm = {"confirm": "yes", "text": "hola", "delete_remote": "on"}

    mapped = client.post(action(name), {"phone": PHONE, **confirm})
    unmapped = client.post(action(name), {"phone": UNMAPPED, **confirm})

    assert (mapped.status_code, unmapped.status_code) == (403, 403)
    assert mapped.content == unmapped.content
    assert OaThreadMap.objects.get(pk=PHONE).thread_id == THREAD
    assert Contact.objects.get(pk=PHONE).bot_paused is False
    assert outbox == []


def test_the_pause_permission_alone_cannot_toggle_a_contact(clients, conversation):
    response = clients[PAUSE].post(reverse("admin:threads_contact_change", args=[quote(PHONE)]), {"bot_paused": "on"})

    assert response.status_code == 403
    assert Contact.objects.get(pk=PHONE).bot_paused is False


def test_the_pause_and_contact_view_permissions_together_toggle_a_contact(clients, conversation):
    response = clients[f"{VIEW_CONTACTS}+{PAUSE}"].post(
        reverse("admin:threads_contact_change", args=[quote(PHONE)]), {"bot_paused": "on"}
    )

    assert response.status_code == 302
    assert Contact.objects.get(pk=PHONE).bot_paused is True
