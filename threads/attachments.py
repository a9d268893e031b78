"""What a turn's attachments say: voice notes transcribed, images readied for the model, the rest described.

A turn bound for the model runs `understand_attachments` in the worker (never in the webhook):
each attachment is fetched through `threads.media`'s guards, checked against what its bytes
really are, and then a voice note is transcribed (through the adapter, OpenAI's single door) and
an image becomes an `input_image` beside its caption. What came of each one — kind, status,
reason, size, duration, transcript — is stored on the message's `media` entry, so staff see it,
a turn taken over by recovery does not transcribe twice, and `describe_attachments` can tell the
model (or the rule-based responder) later. Nothing an attachment does fails the turn: an
attachment that cannot be read becomes a note, and a turn with nothing readable gets a polite
reply without a model call.
"""

import base64
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from . import media
from .adapter import ImageInput, UserMessage, transcribe_audio
from .exceptions import MediaUnavailable, ThreadsError
from .models import Message
from .pricing import transcription_cost_usd

logger = logging.getLogger(__name__)

AUDIO, IMAGE, STICKER, OTHER = "audio", "image", "sticker", "other"
OK, FAILED, SKIPPED = "ok", "failed", "skipped"

# Containers OpenAI's transcription endpoint accepts (AMR and raw AAC are not among them).
TRANSCRIBABLE = frozenset({"audio/ogg", "audio/mpeg", "audio/mp4", "audio/webm", "audio/wav", "audio/flac"})
# The kind of content each sniffed type belongs to (a declared audio file must hold audio).
_SNIFFED_KIND = {
    **{content_type: AUDIO for content_type in (*TRANSCRIBABLE, "audio/amr", "audio/aac")},
    **{content_type: IMAGE for content_type in media.IMAGE_TYPES},
}

# A transcript longer than a typed message could be is cut (Twilio's own body limit is 1,600 characters).
TRANSCRIPT_MAX_CHARS = 4096
WHAT_I_READ = "Puedo leer mensajes de texto, escuchar notas de voz y ver imágenes (JPG, PNG o WebP)."
STICKER_REPLY = (
    "¡Buen sticker! 😄 Soy Brenda y te ayudo con los cursos de inteligencia artificial. "
    "Escríbeme o mándame una nota de voz con lo que buscas."
)


@dataclass
class TurnInputs:
    """A turn's messages as the model gets them, and what understanding their attachments cost."""

    inputs: list[str | UserMessage]  # one per message, images beside their captions
    texts: list[str]  # the same as plain text, for the rule-based responder
    direct_reply: str = ""  # set when nothing in the turn is for the model: this is the answer
    cost_usd: Decimal | None = Decimal(0)  # transcription; None when a model used has no price
    transcribed_s: float = 0.0
    reasons: list[str] = field(default_factory=list)  # why attachments were not understood


def kind_of(entry: dict) -> str:
    """Tell an attachment's kind from what Twilio declared: audio, image, sticker or other."""
    content_type = media.base_type(str(entry.get("content_type") or ""))
    if entry.get("sticker"):
        return STICKER
    if content_type in media.AUDIO_TYPES:
        return AUDIO
    if content_type in media.IMAGE_TYPES:
        return IMAGE
    return OTHER


def sticker_only(messages: Sequence[Message]) -> bool:
    """Whether the messages are stickers and nothing else (answered warmly, without the model)."""
    entries = [entry for m in messages for entry in m.media]
    return bool(entries) and not any(m.body.strip() for m in messages) and all(kind_of(e) == STICKER for e in entries)


def understand_attachments(messages: Sequence[Message], *, deadline: float) -> TurnInputs:
    """Fetch and understand the attachments of a turn's messages, by `deadline`; store the outcome on each message.

    Each download also ends within MEDIA_TIMEOUT_S. Attachments already understood (a turn
    resumed after a crash) keep their transcript; images are fetched again (their bytes are not
    stored, unless MEDIA_RETENTION_DAYS keeps a copy).
    """
    result = TurnInputs(inputs=[], texts=[])
    understood = False
    for message in messages:
        images: list[ImageInput] = []
        changed = False
        for index, entry in enumerate(message.media):
            if entry.get("status") is None or kind_of(entry) == IMAGE:
                cost, image = _understand(message, index, entry, deadline=deadline)
                changed = True
                if cost is None or result.cost_usd is None:
                    result.cost_usd = None
                else:
                    result.cost_usd += cost
                if image is not None:
                    images.append(image)
            if entry.get("status") == OK:
                understood = True
                result.transcribed_s += float(entry.get("transcribed_s") or 0)
            elif entry.get("reason"):
                result.reasons.append(str(entry["reason"]))
        if changed:
            Message.objects.filter(pk=message.pk).update(media=message.media)
        understood = understood or bool(message.body.strip())
        text = describe_message(message)
        result.texts.append(text)
        result.inputs.append(UserMessage(text=text, images=tuple(images)) if images else text)
    if not understood:
        result.direct_reply = polite_reply(messages)
    return result


def _understand(
    message: Message, index: int, entry: dict, *, deadline: float
) -> tuple[Decimal | None, ImageInput | None]:
    """Understand one attachment in place (its entry gets kind, status, reason…); return its cost and image."""
    kind = kind_of(entry)
    entry["kind"] = kind
    if kind in (STICKER, OTHER):
        entry.update(status=SKIPPED, reason="sticker" if kind == STICKER else "unsupported_type")
        return Decimal(0), None
    started = time.monotonic()
    try:
        fetched = _fetch(message, index, entry, deadline=deadline)
        sniffed = media.sniff_type(fetched)
        entry["bytes"], entry["sniffed_type"] = len(fetched), sniffed or ""
        if sniffed is None or _SNIFFED_KIND.get(sniffed) != kind:
            raise MediaUnavailable("content_mismatch", f"declared {entry.get('content_type')}, content {sniffed}")
        if not entry.get("stored"):
            entry["stored"] = media.keep_copy(message_id=message.pk, index=index, data=fetched, content_type=sniffed)
        if kind == IMAGE:
            encoded = base64.b64encode(fetched).decode("ascii")
            entry.update(status=OK, reason="")
            image = ImageInput(data_url=f"data:{sniffed};base64,{encoded}", detail=settings.OPENAI_IMAGE_DETAIL)
            return Decimal(0), image
        if entry.get("transcript"):  # understood by an earlier attempt of this turn
            entry.update(status=OK, reason="")
            return Decimal(0), None
        return _transcribe(message, entry, fetched, sniffed, deadline=deadline), None
    except MediaUnavailable as exc:
        entry.update(status=FAILED, reason=exc.reason)
        logger.warning(
            "attachment %s of message %s (%s) not understood: %s", index, message.pk, entry.get("content_type"), exc
        )
        return Decimal(0), None
    except Exception:  # an attachment never fails the turn
        entry.update(status=FAILED, reason="internal_error")
        logger.exception("attachment %s of message %s failed unexpectedly", index, message.pk)
        return Decimal(0), None
    finally:
        entry["ms"] = round((time.monotonic() - started) * 1000)


def _fetch(message: Message, index: int, entry: dict, *, deadline: float) -> bytes:
    copy = media.local_copy(str(entry.get("stored") or ""))
    if copy is not None:
        return copy.read_bytes()
    own_deadline = min(deadline, time.monotonic() + settings.MEDIA_TIMEOUT_S)
    return media.fetch_media(str(entry.get("url") or ""), deadline=own_deadline).data


def _transcribe(message: Message, entry: dict, data: bytes, sniffed: str, *, deadline: float) -> Decimal | None:
    """Transcribe a voice note that passed the checks; return what it cost (None: the model has no price)."""
    if sniffed not in TRANSCRIBABLE:
        raise MediaUnavailable("unsupported_audio", f"{sniffed} cannot be transcribed")
    seconds, from_container = media.audio_duration_s(data, sniffed)
    entry["duration_s"] = round(seconds, 1)
    entry["duration_from"] = "container" if from_container else "estimate"
    if seconds > settings.VOICE_MAX_SECONDS:
        raise MediaUnavailable("too_long", f"{seconds:.0f} s, limit {settings.VOICE_MAX_SECONDS} s")
    extension = media.EXTENSIONS.get(sniffed, "ogg")
    try:
        heard = transcribe_audio(data=data, filename=f"voice.{extension}", content_type=sniffed, deadline=deadline)
    except ThreadsError as exc:
        raise MediaUnavailable("transcription_failed", str(exc)) from exc
    billed = heard.billed_seconds if heard.billed_seconds is not None else seconds
    cost = transcription_cost_usd(heard.model, billed)
    entry.update(transcribed_s=round(billed, 2), transcribe_model=heard.model)
    if not heard.text:
        entry.update(status=FAILED, reason="no_speech", transcript="")
        logger.info("voice note of message %s: no speech heard (%.1f s)", message.pk, billed)
        return cost
    entry.update(status=OK, reason="", transcript=heard.text[:TRANSCRIPT_MAX_CHARS])
    logger.info("voice note of message %s transcribed: %.1f s, %d characters", message.pk, billed, len(heard.text))
    return cost


# --- what the model and the responder are told -------------------------------------------------


def describe_message(message: Message) -> str:
    """The message as text for the model: its body, a voice note's transcript marked as such, a note per attachment."""
    parts = [message.body.strip()] if message.body.strip() else []
    parts += [note for entry in message.media if (note := describe_attachment(entry))]
    return "\n".join(parts)


def describe_attachment(entry: dict) -> str:
    """One attachment as a bracketed note for the model (an image it gets as an `input_image` is still named)."""
    kind, status, reason = entry.get("kind") or kind_of(entry), entry.get("status"), entry.get("reason") or ""
    content_type = media.base_type(str(entry.get("content_type") or "")) or "?"
    if status is None:
        return f"[El usuario adjuntó un archivo ({content_type}) que aún no se ha revisado]"
    if kind == AUDIO and status == OK:
        transcript = entry.get("transcript")
        return f"[Nota de voz del usuario, transcrita; respóndela como si la hubiera escrito]: «{transcript}»"
    if kind == IMAGE and status == OK:
        return "[El usuario envió una imagen: la tienes adjunta]"
    if kind == STICKER:
        return "[El usuario envió un sticker]"
    if reason == "too_long":
        minutes = max(1, settings.VOICE_MAX_SECONDS // 60)
        return (
            f"[El usuario envió una nota de voz de más de {minutes} minutos y no se transcribió: pídele con amabilidad "
            "una más corta o que lo escriba]"
        )
    if reason == "no_speech":
        return "[El usuario envió una nota de voz en la que no se entiende nada: pídele que la repita o lo escriba]"
    if kind == OTHER:
        return (
            f"[El usuario adjuntó un archivo ({content_type}) que no puedes abrir. Díselo con amabilidad: "
            f"{WHAT_I_READ}]"
        )
    what = "una nota de voz" if kind == AUDIO else "una imagen"
    return f"[El usuario envió {what} que no se pudo abrir: pídele con amabilidad que la reenvíe o lo escriba]"


def polite_reply(messages: Sequence[Message]) -> str:
    """The answer to a turn with nothing the model could read: stickers, unreadable or unsupported attachments."""
    entries = [entry for m in messages for entry in m.media]
    if entries and all((entry.get("kind") or kind_of(entry)) == STICKER for entry in entries):
        return STICKER_REPLY
    reasons = {str(entry.get("reason") or "") for entry in entries}
    kinds = {entry.get("kind") or kind_of(entry) for entry in entries}
    sentences = []
    if "too_long" in reasons:
        minutes = max(1, settings.VOICE_MAX_SECONDS // 60)
        sentences.append(f"Tu nota de voz dura más de {minutes} minutos y no alcanzo a escucharla completa.")
    if "no_speech" in reasons:
        sentences.append("No logré entender tu nota de voz.")
    if reasons & {"too_long", "no_speech"}:
        sentences.append("¿Me mandas una más corta o me escribes tu pregunta?")
    if reasons - {"too_long", "no_speech", "unsupported_type", "sticker", ""}:
        sentences.append("No pude abrir el archivo que enviaste. ¿Me lo reenvías o me escribes tu pregunta?")
    if OTHER in kinds:
        sentences.append("Recibí tu archivo, pero todavía no puedo abrir ese tipo de archivo.")
    sentences.append(WHAT_I_READ)
    return " ".join(dict.fromkeys(sentences))


# --- staff hear and see it --------------------------------------------------------------------

# Staff's player may take its time over a 16 MB file; the guards of `threads.media` still apply.
STAFF_STREAM_S = 60.0


@dataclass
class StaffMedia:
    """An attachment opened for staff: what to call it, and its bytes as they arrive (close when done)."""

    content_type: str
    inline: bool  # audio and images play in the page; anything else downloads
    chunks: Iterator[bytes]
    close: Callable[[], None]


def open_for_staff(message: Message, index: int) -> StaffMedia:
    """Open attachment `index` of a stored inbound message: the local copy if kept, else Twilio's, streamed.

    Only URLs stored with a message are ever opened, through the same host allowlist as the
    worker: the view is not a proxy. Raises MediaUnavailable (reason "not_found" for no such
    attachment).
    """
    if message.direction != Message.Direction.INBOUND or not 0 <= index < len(message.media):
        raise MediaUnavailable("not_found", f"message {message.pk} has no attachment {index}")
    entry = message.media[index]
    declared = media.base_type(str(entry.get("content_type") or ""))
    content_type = str(entry.get("sniffed_type") or "") or declared
    inline = content_type in media.AUDIO_TYPES or content_type in media.IMAGE_TYPES
    copy = media.local_copy(str(entry.get("stored") or ""))
    chunks: Iterator[bytes]
    close: Callable[[], None]
    if copy is not None:
        handle = copy.open("rb")
        chunks, close = iter(lambda: handle.read(media.CHUNK_BYTES), b""), handle.close
    else:
        stack = contextlib.ExitStack()
        _, chunks = stack.enter_context(
            media.open_media(str(entry.get("url") or ""), deadline=time.monotonic() + STAFF_STREAM_S)
        )
        close = stack.close
    return StaffMedia(
        content_type=content_type if inline else "application/octet-stream",
        inline=inline,
        chunks=chunks,
        close=close,
    )
