"""Voice notes and images end to end: a real ogg/opus note and a PNG served behind Basic auth, the fake OpenAI.

Each test stores an inbound WhatsApp message with attachments, runs the user's turn through the
real service (`process_user_messages`), and looks at what reached the fake OpenAI, what the user
received, and what was stored on the message.
"""

import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.fakes.twilio_media import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioMedia
from threads import media, message_log
from threads.attachments import STICKER_REPLY, WHAT_I_READ
from threads.engines.base import IMAGE_NOT_SHOWN
from threads.message_log import InboundMedia
from threads.models import Message, Turn
from threads.pricing import Usage, cost_usd, transcription_cost_usd
from threads.services import process_user_messages
from webhooks.serializers import parse_media

DATA = Path(__file__).resolve().parent.parent / "data" / "media"
VOICE = (DATA / "voice_note.ogg").read_bytes()  # 10 s of Spanish speech, ogg/opus (espeak-ng + ffmpeg)
PNG = (DATA / "poster.png").read_bytes()
PHONE = "whatsapp:+5215512345678"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))


@pytest.fixture
def twilio_media(settings):
    fake = FakeTwilioMedia()
    fake.files["voice.ogg"] = (VOICE, "audio/ogg")
    fake.files["poster.png"] = (PNG, "image/png")
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.TWILIO_MEDIA_HOSTS = fake.hosts
    settings.MEDIA_RETENTION_DAYS = 0
    yield fake
    fake.stop()


def send(*attachments: InboundMedia, body: str = "") -> Turn:
    message_log.record_inbound(user_phone=PHONE, twilio_sid=f"SM{next(_sid):032x}", body=body, media=list(attachments))
    assert process_user_messages(user_phone=PHONE) == 1
    return Turn.objects.filter(user_phone=PHONE).latest("pk")


def voice(url: str, content_type: str = "audio/ogg") -> InboundMedia:
    return InboundMedia(url=url, content_type=content_type)


def entries() -> list[dict]:
    return Message.objects.filter(direction="in").latest("pk").media


def model_inputs(fake_openai) -> list:
    """The user's messages the model was given (tool outputs left out)."""
    calls = fake_openai.calls("/responses", "POST")
    return [item for call in calls for item in call.body["input"] if item.get("type") == "message"]


# --- voice notes ------------------------------------------------------------------------------


def test_voice_note_is_transcribed_and_answered_as_if_typed(fake_openai, outbox, twilio_media, demo_catalogue):
    fake_openai.script_transcriptions(["¿Cuánto cuesta el curso de marketing?"])

    turn = send(voice(twilio_media.url("/media/voice.ogg")))

    (transcription,) = fake_openai.calls("/audio/transcriptions")
    form = transcription.body
    assert form["model"] == "gpt-transcribe"
    assert form["file"]["data"] == VOICE and form["file"]["content_type"] == "audio/ogg"
    hints = {key: value for key, value in form.items() if key.startswith("language")}
    assert list(hints.values()) == ["es"] and next(iter(hints)).startswith("languages")  # gpt-transcribe's list
    (text,) = [item["content"] for item in model_inputs(fake_openai)]
    assert "Nota de voz" in text and "«¿Cuánto cuesta el curso de marketing?»" in text
    # The fake model searched the catalogue for what was said, as for a typed question.
    assert turn.tool_names == ["buscar_curso"] and "marketing" in outbox[-1].body.lower()
    (entry,) = entries()
    assert entry["status"] == "ok" and entry["transcript"] == "¿Cuánto cuesta el curso de marketing?"
    assert entry["duration_s"] == 10.0 and entry["duration_from"] == "container"
    assert turn.status == Turn.Status.COMPLETED and not turn.fallback_used
    # The credentials went to Twilio's API only; the CDN it redirected to saw none.
    assert [(path, auth) for _, path, auth in twilio_media.calls("api")] == [("/media/voice.ogg", True)]
    assert [(path, auth) for _, path, auth in twilio_media.calls("cdn")] == [("/files/voice.ogg", False)]


def test_transcription_is_added_to_the_turns_cost(fake_openai, outbox, twilio_media):
    fake_openai.script_transcriptions(["Hola"])

    turn = send(voice(twilio_media.url("/media/voice.ogg")))

    seconds = media.ogg_duration_s(VOICE)
    assert 9.9 < seconds < 10.1
    tokens = Usage(
        input_tokens=turn.input_tokens,
        cached_input_tokens=turn.cached_input_tokens or 0,
        output_tokens=turn.output_tokens,
        reasoning_tokens=turn.reasoning_tokens or 0,
    )
    transcription = transcription_cost_usd("gpt-transcribe", seconds)
    assert transcription == Decimal("0.0045") * Decimal(str(seconds)) / 60
    assert turn.cost_usd == pytest.approx(cost_usd(turn.model, tokens) + transcription, abs=Decimal("1e-8"))
    assert turn.openai_calls == 3  # the conversation, the transcription and the response


def test_transcription_cost_uses_the_seconds_openai_bills_when_it_says(fake_openai, outbox, twilio_media, settings):
    settings.OPENAI_TRANSCRIBE_MODEL = "whisper-1"
    fake_openai.script_transcriptions([{"text": "Hola", "usage": {"type": "duration", "seconds": 12}}])

    turn = send(voice(twilio_media.url("/media/voice.ogg")))

    (transcription,) = fake_openai.calls("/audio/transcriptions")
    assert transcription.body["model"] == "whisper-1" and transcription.body["language"] == "es"
    assert entries()[0]["transcribed_s"] == 12
    assert turn.state["media_cost_usd"] == str(Decimal("0.006") * 12 / 60)


def test_a_voice_note_over_the_limit_gets_a_polite_note_and_no_transcription(
    fake_openai, outbox, twilio_media, settings
):
    settings.VOICE_MAX_SECONDS = 5

    turn = send(voice(twilio_media.url("/media/voice.ogg")))

    assert fake_openai.calls("/audio/transcriptions") == [] and fake_openai.calls("/responses") == []
    assert outbox[-1].body.startswith("Tu nota de voz dura más de")
    assert WHAT_I_READ in outbox[-1].body
    assert entries()[0]["reason"] == "too_long"
    assert turn.fallback_reason == "media"


def test_a_voice_note_with_a_caption_over_the_limit_still_reaches_the_model(
    fake_openai, outbox, twilio_media, settings
):
    settings.VOICE_MAX_SECONDS = 5

    send(voice(twilio_media.url("/media/voice.ogg")), body="te mando un audio")

    (text,) = [item["content"] for item in model_inputs(fake_openai)]
    assert text.startswith("te mando un audio") and "más de" in text and "no se transcribió" in text


# --- images -----------------------------------------------------------------------------------


def test_an_image_reaches_the_model_as_input_image_with_its_caption(fake_openai, outbox, twilio_media):
    send(InboundMedia(url=twilio_media.url("/media/poster.png"), content_type="image/png"), body="¿cuánto cuesta este?")

    (item,) = model_inputs(fake_openai)
    text_part, image_part = item["content"]
    assert text_part == {"type": "input_text", "text": text_part["text"]}
    assert text_part["text"].startswith("¿cuánto cuesta este?") and "imagen" in text_part["text"]
    assert image_part["type"] == "input_image" and image_part["detail"] == "low"
    assert image_part["image_url"].startswith("data:image/png;base64,")
    assert media.sniff_type(__import__("base64").b64decode(image_part["image_url"].split(",", 1)[1])) == "image/png"
    assert entries()[0]["status"] == "ok"
    assert outbox


def test_the_legacy_engine_gets_the_caption_and_a_note_instead_of_the_image(assistants_engine, outbox, twilio_media):
    send(InboundMedia(url=twilio_media.url("/media/poster.png"), content_type="image/png"), body="¿y este curso?")

    (created,) = assistants_engine.calls("/messages", "POST")
    assert created.body["content"].startswith("¿y este curso?") and IMAGE_NOT_SHOWN in created.body["content"]


def test_a_sticker_gets_a_friendly_reply_without_a_model_call(fake_openai, outbox, twilio_media):
    send(InboundMedia(url=twilio_media.url("/media/poster.png"), content_type="image/webp", sticker=True))

    assert [m.body for m in outbox] == [STICKER_REPLY]
    assert fake_openai.requests == [] and twilio_media.requests == []


def test_twilio_message_type_sticker_marks_the_attachment():
    """Twilio's `MessageType` tells a sticker from a photo (both arrive as image/webp)."""
    form = {
        "From": PHONE,
        "MessageSid": "MM" + "a" * 32,
        "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "MediaContentType0": "image/webp",
        "MessageType": "sticker",
    }
    assert [m.sticker for m in parse_media(form)] == [True]
    assert [m.sticker for m in parse_media({**form, "MessageType": "image"})] == [False]


# --- everything else, and without OpenAI ----------------------------------------------------------


def test_a_document_alone_gets_a_note_on_what_brenda_reads_and_is_never_fetched(fake_openai, outbox, twilio_media):
    send(InboundMedia(url=twilio_media.url("/media/doc.pdf"), content_type="application/pdf"))

    assert outbox[-1].body.endswith(WHAT_I_READ) and "ese tipo de archivo" in outbox[-1].body
    assert fake_openai.requests == [] and twilio_media.requests == []
    assert entries()[0]["reason"] == "unsupported_type"


def test_a_document_with_a_question_reaches_the_model_with_a_note(fake_openai, outbox, twilio_media):
    send(InboundMedia(url=twilio_media.url("/media/doc.pdf"), content_type="application/pdf"), body="mira mi CV")

    (text,) = [item["content"] for item in model_inputs(fake_openai)]
    assert text.startswith("mira mi CV") and "application/pdf" in text and "no puedes abrir" in text


def test_without_openai_a_voice_note_gets_the_rule_based_polite_note(openai_off, outbox, twilio_media):
    turn = send(voice(twilio_media.url("/media/voice.ogg")))

    assert outbox[-1].body.startswith("Por ahora solo puedo leer mensajes de texto")
    assert twilio_media.requests == []  # nothing to understand it with: nothing fetched
    assert turn.fallback_reason == "media"


# --- bad input: each a logged reason, a polite reply, no stuck turn -----------------------------------


def test_a_redirect_to_a_host_that_is_not_allowed_is_never_followed(fake_openai, outbox, twilio_media, caplog):
    turn = send(voice(twilio_media.url("/foreign/voice.ogg")))

    assert twilio_media.calls("foreign") == []
    assert entries()[0]["reason"] == "host_not_allowed"
    assert "No pude abrir el archivo" in outbox[-1].body
    assert turn.status == Turn.Status.FALLBACK and fake_openai.requests == []
    assert "host_not_allowed" in caplog.text


def test_a_media_url_on_a_host_that_is_not_allowed_is_never_contacted(fake_openai, outbox, twilio_media):
    send(voice(twilio_media.url("/files/voice.ogg", "foreign")), body="¿me escuchas?")

    assert twilio_media.requests == []
    assert entries()[0]["reason"] == "host_not_allowed"
    (text,) = [item["content"] for item in model_inputs(fake_openai)]
    assert "no se pudo abrir" in text  # the model is told, and answers the rest


@pytest.mark.parametrize(
    ("path", "token", "reason"), [("/missing", AUTH_TOKEN, "http_404"), ("/media/voice.ogg", "wrong", "http_401")]
)
def test_an_error_from_the_media_host_is_a_polite_reply(
    fake_openai, outbox, twilio_media, settings, path, token, reason
):
    settings.TWILIO_AUTH_TOKEN = token

    turn = send(voice(twilio_media.url(path)))

    assert entries()[0]["reason"] == reason
    assert "No pude abrir el archivo" in outbox[-1].body and turn.status == Turn.Status.FALLBACK


def test_a_media_host_that_does_not_answer_in_time_is_given_up(fake_openai, outbox, twilio_media, settings):
    settings.MEDIA_TIMEOUT_S = 0.5
    twilio_media.slow_s = 3

    started = time.monotonic()
    send(voice(twilio_media.url("/slow")))

    assert time.monotonic() - started < 2.5
    assert entries()[0]["reason"] == "timeout" and outbox


def test_the_size_limit_stops_the_download_while_it_streams(fake_openai, outbox, twilio_media, settings):
    settings.MEDIA_MAX_BYTES = 256 * 1024

    send(voice(twilio_media.url("/huge")))

    assert entries()[0]["reason"] == "too_large" and outbox
    time.sleep(0.2)
    assert twilio_media.huge_sent < 32 * 1024 * 1024  # it would have sent 64 MB


def test_a_declared_size_over_the_limit_is_refused_before_reading(twilio_media, settings):
    settings.MEDIA_MAX_BYTES = len(VOICE) - 1

    with pytest.raises(media.MediaUnavailable) as failure:
        media.fetch_media(twilio_media.url("/direct/voice.ogg"), deadline=time.monotonic() + 5)

    assert failure.value.reason == "too_large"


def test_a_redirect_to_no_url_at_all_is_a_media_failure(twilio_media):
    with pytest.raises(media.MediaUnavailable) as failure:
        media.fetch_media(twilio_media.url("/bad-redirect"), deadline=time.monotonic() + 5)

    assert failure.value.reason == "bad_redirect"


def test_the_credentials_go_to_twilios_api_only_never_straight_to_another_allowed_host(twilio_media):
    twilio_media.files["cdn.ogg"] = (VOICE, "audio/ogg")

    fetched = media.fetch_media(twilio_media.url("/files/cdn.ogg", "cdn"), deadline=time.monotonic() + 5)

    assert fetched.data == VOICE
    assert twilio_media.calls("cdn") == [("cdn", "/files/cdn.ogg", False)]


def test_a_content_type_that_lies_is_not_transcribed(fake_openai, outbox, twilio_media):
    twilio_media.files["lie.ogg"] = (b"<html><body>not audio at all</body></html>", "audio/ogg")

    send(voice(twilio_media.url("/media/lie.ogg")))

    assert entries()[0]["reason"] == "content_mismatch"
    assert fake_openai.calls("/audio/transcriptions") == [] and outbox


def test_a_corrupt_ogg_is_not_transcribed(fake_openai, outbox, twilio_media):
    twilio_media.files["corrupt.ogg"] = (b"OggS" + bytes(range(256)) * 4, "audio/ogg")

    send(voice(twilio_media.url("/media/corrupt.ogg")))

    assert entries()[0]["reason"] == "corrupt_audio"
    assert fake_openai.calls("/audio/transcriptions") == [] and outbox


def test_ten_attachments_at_once_make_one_turn_and_one_reply(fake_openai, outbox, twilio_media):
    fake_openai.script_transcriptions(["primera", "segunda", "tercera"])
    attachments = [
        voice(twilio_media.url("/media/voice.ogg")),
        voice(twilio_media.url("/media/voice.ogg")),
        InboundMedia(url=twilio_media.url("/media/poster.png"), content_type="image/png"),
        InboundMedia(url=twilio_media.url("/media/poster.png"), content_type="image/png"),
        voice(twilio_media.url("/missing")),
        voice(twilio_media.url("/foreign/voice.ogg")),
        InboundMedia(url=twilio_media.url("/media/doc.pdf"), content_type="application/pdf"),
        InboundMedia(url=twilio_media.url("/media/clip.mp4"), content_type="video/mp4"),
        InboundMedia(url=twilio_media.url("/media/card.vcf"), content_type="text/vcard"),
        voice(twilio_media.url("/media/voice.ogg"), "audio/amr"),
    ]

    turn = send(*attachments)

    stored = entries()
    assert [e["status"] for e in stored] == ["ok"] * 4 + ["failed"] * 2 + ["skipped"] * 3 + ["ok"]
    assert stored[9]["sniffed_type"] == "audio/ogg"  # declared AMR, holds Ogg: audio all the same
    (item,) = model_inputs(fake_openai)
    assert sum(part["type"] == "input_image" for part in item["content"]) == 2
    assert turn.status == Turn.Status.COMPLETED and len(outbox) >= 1


# --- local copies --------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["-1", "36501", "99999999999"])
def test_prune_media_refuses_days_out_of_range_with_a_clear_message(days):
    with pytest.raises(CommandError, match="--days must be between 0 and 36500"):
        call_command("prune_media", "--days", days, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_a_retention_of_a_million_days_prunes_nothing_instead_of_overflowing(settings, tmp_path):
    settings.MEDIA_RETENTION_DAYS, settings.MEDIA_ROOT = 1_000_000, tmp_path
    (tmp_path / "whatsapp").mkdir()
    (tmp_path / "whatsapp" / "old.ogg").write_bytes(VOICE)

    assert media.prune_copies() == 0


def test_kept_copies_are_written_and_pruned(fake_openai, outbox, twilio_media, settings, tmp_path):
    settings.MEDIA_RETENTION_DAYS, settings.MEDIA_ROOT = 7, tmp_path

    send(voice(twilio_media.url("/media/voice.ogg")))

    (entry,) = entries()
    assert (tmp_path / "whatsapp" / entry["stored"]).read_bytes() == VOICE
    call_command("prune_media", "--days", "7", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert (tmp_path / "whatsapp" / entry["stored"]).exists()
    call_command("prune_media", "--days", "0", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not (tmp_path / "whatsapp").exists() or not any((tmp_path / "whatsapp").iterdir())
