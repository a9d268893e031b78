"""WhatsApp attachments as bytes: fetched from Twilio safely, recognised by their content, kept a while if asked.

Twilio sends `MediaUrl{N}` in the (signed) webhook; the file sits behind HTTP Basic auth on
`api.twilio.com`, which redirects to its media CDN. Nothing here trusts the URL or the server:
only hosts in TWILIO_MEDIA_HOSTS are ever contacted (redirects included), the credentials go to
the first hop only (the CDN URL Twilio redirects to is signed already), the size limit is counted
while the bytes arrive, and every download ends by its deadline. What a file really is comes
from its first bytes, not from the declared content type.
"""

import contextlib
import logging
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2
from django.conf import settings
from django.utils import timezone

from .exceptions import MediaUnavailable

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
CONNECT_TIMEOUT_S = 5.0
CHUNK_BYTES = 64 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

AUDIO_TYPES = frozenset(
    {
        "audio/ogg",
        "audio/opus",
        "audio/mpeg",
        "audio/mp3",
        "audio/mp4",
        "audio/m4a",
        "audio/x-m4a",
        "audio/aac",
        "audio/amr",
        "audio/webm",
        "audio/wav",
        "audio/x-wav",
        "audio/flac",
    }
)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})

# Bits per second assumed to estimate a duration from the size when the container does not say
# (deliberately low, so an estimate errs towards "too long" rather than a surprise bill).
ESTIMATE_BPS = {"audio/amr": 12_200, "audio/ogg": 16_000, "audio/opus": 16_000}
DEFAULT_ESTIMATE_BPS = 32_000


@dataclass(frozen=True)
class Fetched:
    """A downloaded attachment: its bytes."""

    data: bytes


def base_type(content_type: str) -> str:
    """`audio/ogg; codecs=opus` → `audio/ogg` (lower case)."""
    return content_type.split(";", 1)[0].strip().lower()


def is_allowed_url(url: str, hosts: Iterable[str] | None = None) -> bool:
    """Tell whether `url` may be fetched: https (http only on loopback, for development) to an allowed host.

    `hosts` defaults to TWILIO_MEDIA_HOSTS; an entry without a port matches the scheme's default port only.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https":
        default_port = 443
    elif parts.scheme == "http" and host in LOOPBACK_HOSTS:
        default_port = 80
    else:
        return False
    allowed = set(settings.TWILIO_MEDIA_HOSTS if hosts is None else hosts)
    if port is None or port == default_port:
        return host in allowed or f"{host}:{default_port}" in allowed
    return f"{host}:{port}" in allowed


@contextlib.contextmanager
def open_media(url: str, *, deadline: float, max_bytes: int | None = None) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Open a Twilio media URL and yield (declared content type, chunks), guarding every hop.

    Redirects are followed by hand, each target checked against the allowlist. The account's
    credentials go with the first request only, and only to Twilio's API (the first entry of
    TWILIO_MEDIA_HOSTS): a URL straight to the CDN, or a redirect, never sees them. `deadline`
    (a `time.monotonic()` value) bounds connecting, every read and the whole transfer;
    `max_bytes` (default MEDIA_MAX_BYTES) stops it as soon as it is passed. Raises
    MediaUnavailable with the reason.
    """
    limit = settings.MEDIA_MAX_BYTES if max_bytes is None else max_bytes
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        raise MediaUnavailable("not_configured", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to fetch media")
    credentials = (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    auth: tuple[str, str] | None = credentials if is_allowed_url(url, settings.TWILIO_MEDIA_HOSTS[:1]) else None
    current = url
    with httpx2.Client(follow_redirects=False, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            if not is_allowed_url(current):
                raise MediaUnavailable("host_not_allowed", _describe(current))
            try:
                with client.stream("GET", current, auth=auth, timeout=_timeout(deadline)) as response:
                    if response.status_code in REDIRECT_STATUSES and response.headers.get("location"):
                        try:
                            current = urljoin(current, response.headers["location"])
                        except ValueError as exc:  # e.g. "http://[::1": no URL at all
                            raise MediaUnavailable("bad_redirect", _describe(current)) from exc
                        auth = None  # the CDN URL is signed; the credentials stay with Twilio's API
                        continue
                    if response.status_code != 200:
                        raise MediaUnavailable(f"http_{response.status_code}", _describe(current))
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > limit:
                        raise MediaUnavailable("too_large", f"{declared} bytes declared, limit {limit}")
                    yield response.headers.get("content-type", ""), _limited(response, limit, deadline)
                    return
            except httpx2.TimeoutException as exc:
                raise MediaUnavailable("timeout", _describe(current)) from exc
            except httpx2.HTTPError as exc:
                raise MediaUnavailable("connection", f"{_describe(current)} ({type(exc).__name__})") from exc
    raise MediaUnavailable("too_many_redirects", _describe(url))


def fetch_media(url: str, *, deadline: float) -> Fetched:
    """Download a Twilio media URL whole (see `open_media` for the guards)."""
    with open_media(url, deadline=deadline) as (_declared_type, chunks):
        data = b"".join(chunks)
    return Fetched(data=data)


def _limited(response: httpx2.Response, limit: int, deadline: float) -> Iterator[bytes]:
    received = 0
    for chunk in response.iter_bytes(CHUNK_BYTES):
        received += len(chunk)
        if received > limit:
            raise MediaUnavailable("too_large", f"more than {limit} bytes")
        if time.monotonic() > deadline:
            raise MediaUnavailable("timeout", "the transfer outlived its deadline")
        yield chunk


def _timeout(deadline: float) -> httpx2.Timeout:
    left = deadline - time.monotonic()
    if left <= 0:
        raise MediaUnavailable("timeout", "no time left in the turn")
    return httpx2.Timeout(left, connect=min(CONNECT_TIMEOUT_S, left))


def _describe(url: str) -> str:
    """The host and path of a URL, for logs (never its query string, which may carry a signature)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"[:200]


# --- what the bytes are ----------------------------------------------------------------------


def sniff_type(data: bytes) -> str | None:
    """Return the content type the file's first bytes show (audio and image formats only), or None."""
    head = data[:16]
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/aac" if len(head) > 1 and head[1] & 0x06 == 0 else "audio/mpeg"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def ogg_duration_s(data: bytes) -> float:
    """Return an Ogg Opus (or Vorbis) file's duration from its last page's granule position, no decoder needed.

    The granule of an Opus stream counts 48 kHz samples (minus the pre-skip of its header);
    Vorbis counts samples at the rate of its identification header. Raises MediaUnavailable
    ("corrupt_audio") when the pages do not add up.
    """
    if not data.startswith(b"OggS") or len(data) < 47:
        raise MediaUnavailable("corrupt_audio", "not an Ogg stream")
    first = data[28:]
    if first.startswith(b"OpusHead") and len(first) >= 19:
        rate, skip = 48_000, struct.unpack_from("<H", first, 10)[0]
    elif first.startswith(b"\x01vorbis") and len(first) >= 16:
        rate, skip = struct.unpack_from("<I", first, 12)[0], 0
    else:
        raise MediaUnavailable("corrupt_audio", "an Ogg stream without an Opus or Vorbis header")
    last = data.rfind(b"OggS")
    if last < 0 or len(data) < last + 14:
        raise MediaUnavailable("corrupt_audio", "no final Ogg page")
    granule = struct.unpack_from("<q", data, last + 6)[0]
    if granule <= 0 or rate <= 0 or granule < skip:
        raise MediaUnavailable("corrupt_audio", f"granule position {granule}")
    return (granule - skip) / rate


def audio_duration_s(data: bytes, content_type: str) -> tuple[float, bool]:
    """Return the audio's duration in seconds and whether it was read from the container (else estimated from size)."""
    if content_type == "audio/ogg":
        return ogg_duration_s(data), True
    bps = ESTIMATE_BPS.get(content_type, DEFAULT_ESTIMATE_BPS)
    return len(data) * 8 / bps, False


# --- local copies (MEDIA_RETENTION_DAYS) --------------------------------------------------------

EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/amr": "amr",
    "audio/webm": "webm",
    "audio/wav": "wav",
    "audio/flac": "flac",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
}


def media_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "whatsapp"


def keep_copy(*, message_id: int, index: int, data: bytes, content_type: str) -> str:
    """Store a local copy when MEDIA_RETENTION_DAYS is set; return its name under `media_dir()` ("" when none)."""
    if settings.MEDIA_RETENTION_DAYS <= 0:
        return ""
    name = f"{message_id}-{index}.{EXTENSIONS.get(content_type, 'bin')}"
    try:
        media_dir().mkdir(parents=True, exist_ok=True)
        (media_dir() / name).write_bytes(data)
    except OSError:
        logger.exception("could not keep a local copy of attachment %s of message %s", index, message_id)
        return ""
    return name


def local_copy(name: str) -> Path | None:
    """Return the path of a kept copy, or None (never a path outside `media_dir()`)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = media_dir() / name
    return path if path.is_file() else None


MAX_RETENTION_DAYS = 36_500


def prune_copies(*, days: int | None = None) -> int:
    """Delete local copies older than `days` (default MEDIA_RETENTION_DAYS; 0 deletes them all); return how many."""
    keep_days = settings.MEDIA_RETENTION_DAYS if days is None else days
    # Capped at a century: further back than year 1 is no date at all (OverflowError).
    cutoff = (timezone.now() - timedelta(days=min(max(keep_days, 0), MAX_RETENTION_DAYS))).timestamp()
    if not media_dir().is_dir():
        return 0
    deleted = 0
    for path in media_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
