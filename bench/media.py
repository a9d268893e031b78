"""Bench 5: a 10-second voice note from webhook to reply, and what transcribing it costs per minute.

In process, like bench 4: a test database with the demo catalogue, the immediate task backend
(the turn runs right after the webhook's transaction commits, inside the request), the fake
OpenAI served on 127.0.0.1 with a fixed latency per request, and the fake Twilio media hosts
(Basic auth on the API host, a redirect to the CDN). Each message is a real `POST
/webhooks/twilio` (signature checks off) carrying the committed 10-second ogg/opus voice note;
the baseline is the same question typed. The difference is what a voice note adds: the
download, the checks and one transcription request.

Transcription cost per minute comes from the turns' stored media cost and the seconds OpenAI
bills, priced with OPENAI_TRANSCRIBE_MODEL's per-minute rate (threads.pricing).
"""

import statistics
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from .common import demo_test_database, fmt, print_table, ratio, say

VOICE_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "media" / "voice_note.ogg"
QUESTION = "Hola Brenda, ¿cuánto cuesta el curso de inteligencia artificial para marketing?"
TARGET_OVERHEAD_S = 1.0  # what a voice note may add to a typed message's reply, at the fake's latency


def run(*, quick: bool, latency_s: float = 0.2) -> dict:
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    from messaging import backends
    from tests.fakes.openai import FakeOpenAI
    from tests.fakes.twilio_media import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioMedia
    from threads.models import Message, Turn

    rounds = 5 if quick else 20
    voice = VOICE_FILE.read_bytes()
    with demo_test_database("media"):
        fake = FakeOpenAI(latency_s=latency_s)
        media_hosts = FakeTwilioMedia()
        media_hosts.files["voice.ogg"] = (voice, "audio/ogg")
        try:
            with override_settings(
                OPENAI_BASE_URL=fake.serve(),
                OPENAI_API_KEY="sk-bench",
                OPENAI_ENGINE="responses",
                OPENAI_BACKGROUND=False,
                OPENAI_MAX_RETRIES=0,
                TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                TWILIO_MEDIA_HOSTS=media_hosts.hosts,
                TWILIO_VALIDATE_SIGNATURE=False,
                MEDIA_RETENTION_DAYS=0,
                MESSAGING_BACKEND="messaging.backends.LocmemBackend",
            ):
                client = Client(HTTP_HOST="127.0.0.1")
                serial = iter(range(10**6))

                def webhook_to_reply(phone: str, **fields: str) -> float:
                    sent = len(backends.outbox)  # kept: the locmem backend numbers its sids by it
                    form = {"From": phone, "MessageSid": f"SM{next(serial):032x}", "Body": "", **fields}
                    started = time.perf_counter()
                    response = client.post(
                        "/webhooks/twilio", urlencode(form), content_type="application/x-www-form-urlencoded"
                    )
                    if response.status_code != 200 or len(backends.outbox) == sent:
                        raise RuntimeError(f"no reply (HTTP {response.status_code})")
                    return time.perf_counter() - started

                voice_fields = {"NumMedia": "1", "MediaUrl0": media_hosts.url("/media/voice.ogg")}
                voice_fields["MediaContentType0"] = "audio/ogg"
                say(f"media: {rounds} voice notes and {rounds} typed messages, fake OpenAI at {latency_s} s/request")
                for n in range(2):  # warm-up: the first turns build the OpenAI client and conversations
                    webhook_to_reply(f"whatsapp:+52155000000{n}", Body=QUESTION)
                    fake.script_transcriptions([QUESTION])
                    webhook_to_reply(f"whatsapp:+52155100000{n}", **voice_fields)
                typed, spoken = [], []
                for n in range(rounds):
                    typed.append(webhook_to_reply(f"whatsapp:+5215520{n:05d}", Body=QUESTION))
                    fake.script_transcriptions([QUESTION])
                    spoken.append(webhook_to_reply(f"whatsapp:+5215530{n:05d}", **voice_fields))
                media_cost = sum(
                    (Decimal(turn.state.get("media_cost_usd") or 0) for turn in Turn.objects.all()), Decimal(0)
                )
                seconds = sum(
                    float(entry.get("transcribed_s") or 0)
                    for message in Message.objects.filter(direction="in").exclude(media=[])
                    for entry in message.media
                )
        finally:
            fake.stop()
            media_hosts.stop()
    typed_s, spoken_s = statistics.median(typed), statistics.median(spoken)
    per_minute = media_cost / Decimal(seconds / 60) if seconds else None
    rows = [
        ["typed question (baseline)", f"{fmt(typed_s, 3)} s", "1.00x", ""],
        [
            "10-second voice note",
            f"{fmt(spoken_s, 3)} s",
            f"{fmt(ratio(spoken_s, typed_s), 2)}x",
            f"+{spoken_s - typed_s:.3f} s",
        ],
    ]
    print_table(
        "5. Webhook to reply, median of each (in process, immediate tasks)",
        ["message", "webhook → reply", "vs typed", f"added (target < {TARGET_OVERHEAD_S:.1f} s)"],
        rows,
    )
    print_table(
        "5b. Transcription cost",
        ["model", "audio transcribed", "cost", "per minute"],
        [
            [
                settings.OPENAI_TRANSCRIBE_MODEL,
                f"{seconds:.1f} s",
                f"${media_cost:.6f}",
                f"${per_minute:.4f}" if per_minute is not None else "unpriced",
            ]
        ],
    )
    return {
        "latency_s": latency_s,
        "rounds": rounds,
        "typed_median_s": typed_s,
        "voice_median_s": spoken_s,
        "voice_added_s": spoken_s - typed_s,
        "target_added_s": TARGET_OVERHEAD_S,
        "transcribed_s": seconds,
        "transcription_cost_usd": float(media_cost),
        "transcription_usd_per_minute": float(per_minute) if per_minute is not None else None,
        "transcribe_model": settings.OPENAI_TRANSCRIBE_MODEL,
    }
