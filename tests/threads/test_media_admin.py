"""Staff hear and see attachments: the media view's permissions and headers, the transcript's players."""

from pathlib import Path

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from tests.fakes.twilio_media import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioMedia
from threads import repository
from threads.models import Message

DATA = Path(__file__).resolve().parent.parent / "data" / "media"
VOICE = (DATA / "voice_note.ogg").read_bytes()
PHONE = "whatsapp:+5215512345678"
pytestmark = pytest.mark.django_db


@pytest.fixture
def twilio_media(settings):
    fake = FakeTwilioMedia()
    fake.files["voice.ogg"] = (VOICE, "audio/ogg")
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.TWILIO_MEDIA_HOSTS = fake.hosts
    yield fake
    fake.stop()


@pytest.fixture
def voice_message(twilio_media) -> Message:
    return Message.objects.create(
        user_phone=PHONE,
        direction="in",
        origin="user",
        status="received",
        twilio_sid="SM" + "1" * 32,
        media=[
            {
                "url": twilio_media.url("/media/voice.ogg"),
                "content_type": "audio/ogg",
                "kind": "audio",
                "status": "ok",
                "transcript": "¿Cuánto cuesta el curso de marketing?",
                "duration_s": 10.0,
            }
        ],
    )


def media_url(message: Message, index: int = 0) -> str:
    return reverse("threads_media", args=[message.pk, index])


def staff_client(*permissions: str) -> Client:
    user = User.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    client = Client()
    client.force_login(user)
    return client


def test_staff_who_may_read_messages_hear_the_voice_note_streamed_from_twilio(
    admin_client, voice_message, twilio_media
):
    response = admin_client.get(media_url(voice_message))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == VOICE
    assert response["Content-Type"] == "audio/ogg"
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    assert response["X-Content-Type-Options"] == "nosniff"
    assert [(path, auth) for _, path, auth in twilio_media.calls("api")] == [("/media/voice.ogg", True)]
    assert AUTH_TOKEN not in str(response.headers)


def test_staff_without_the_message_permission_are_refused(voice_message, twilio_media):
    response = staff_client().get(media_url(voice_message))

    assert response.status_code == 403 and twilio_media.requests == []
    assert staff_client_with_view().get(media_url(voice_message)).status_code == 200


def test_inbox_users_see_the_media_of_the_conversations_the_inbox_shows_them(voice_message, twilio_media):
    response = staff_client("use_inbox").get(media_url(voice_message))

    assert response.status_code == 200 and b"".join(response.streaming_content) == VOICE


def staff_client_with_view() -> Client:
    user = User.objects.create_user("reader", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_message"))
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login_page(client, voice_message, twilio_media):
    response = client.get(media_url(voice_message))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert twilio_media.requests == []


def test_only_attachments_of_stored_inbound_messages_are_served(admin_client, voice_message, twilio_media):
    outbound = Message.objects.create(
        user_phone=PHONE,
        direction="out",
        origin="assistant",
        status="sent",
        media=[{"url": twilio_media.url("/media/voice.ogg"), "content_type": "audio/ogg"}],
    )

    assert admin_client.get(media_url(voice_message, 1)).status_code == 404
    assert admin_client.get(reverse("threads_media", args=[voice_message.pk + 999, 0])).status_code == 404
    assert admin_client.get(media_url(outbound)).status_code == 404
    assert twilio_media.requests == []


def test_a_stored_url_on_a_host_no_longer_allowed_is_not_fetched(admin_client, voice_message, twilio_media, settings):
    settings.TWILIO_MEDIA_HOSTS = ["api.twilio.com"]

    response = admin_client.get(media_url(voice_message))

    assert response.status_code == 502 and b"host_not_allowed" in response.content
    assert twilio_media.requests == []


def test_the_transcript_shows_a_player_with_the_transcript(admin_client, voice_message):
    repository.save_thread_id(PHONE, "conv_1")

    page = admin_client.get(reverse("admin:threads_oathreadmap_change", args=[quote(PHONE)])).content.decode()

    assert f'<audio controls preload="none" src="{media_url(voice_message)}"></audio>' in page
    assert "Voice note: «¿Cuánto cuesta el curso de marketing?»" in page
    assert "10.0 s" in page
