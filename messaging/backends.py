"""Pluggable outbound messaging, modelled on Django's e-mail backends.

`get_messaging_backend()` loads the class named by `settings.MESSAGING_BACKEND`: Twilio in
production, the console on a laptop without Twilio credentials, an in-memory outbox in tests.
"""

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .exceptions import MessagingError, MessagingNotConfigured

logger = logging.getLogger(__name__)

# Where Twilio reports the delivery of what we send (`webhooks/urls.py` routes this path).
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
WHATSAPP_PREFIX = "whatsapp:"
# The backends lived in `webhooks.backends` before this app existed; a MESSAGING_BACKEND still
# naming them there is read as the path here (with a warning, and messaging.W001).
DEPRECATED_PREFIX = "webhooks.backends."
BACKENDS_PREFIX = "messaging.backends."


@dataclass(frozen=True)
class OutboundMessage:
    to: str
    body: str
    media_urls: tuple[str, ...] = ()
    # An approved template (Twilio Content API): Twilio sends its own text, `body` is our preview.
    content_sid: str = ""
    content_variables: str = ""  # a JSON object as a string, as Twilio's ContentVariables wants it


@dataclass(frozen=True)
class SendResult:
    sid: str | None
    status: str  # Twilio's (queued, sent, ...) or "console" / "queued" for the local backends
    error_code: str = ""


class BaseMessagingBackend:
    """Base class for messaging backends.

    Subclasses must implement `send()`; `send_messages()` sends a batch in order.
    """

    # Whether Twilio will report delivery of sent messages to /webhooks/twilio/status.
    supports_status_callbacks: bool = False

    def __init__(self, **kwargs: object) -> None:
        # Like Django's e-mail backends, accept and ignore options meant for other backends.
        pass

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message and return its result; raise MessagingError when it cannot be sent."""
        raise NotImplementedError("subclasses of BaseMessagingBackend must provide a send() method")

    def send_messages(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send `messages` in order and return their results.

        Stop at the first failure (the MessagingError propagates): the parts of a split reply
        must not arrive with a hole in the middle.
        """
        return [self.send(message) for message in messages]


class TwilioBackend(BaseMessagingBackend):
    """Send WhatsApp messages through Twilio's Messages API, retrying transient failures."""

    supports_status_callbacks = True

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str | None = None,
        timeout: float | None = None,
        public_base_url: str | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], object] = time.sleep,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        self.from_number = from_number or settings.TWILIO_PHONE_NUMBER
        missing = [
            name
            for name, value in (
                ("TWILIO_ACCOUNT_SID", account_sid),
                ("TWILIO_AUTH_TOKEN", auth_token),
                ("TWILIO_PHONE_NUMBER", self.from_number),
            )
            if not value
        ]
        if missing:
            raise MessagingNotConfigured(f"TwilioBackend needs {', '.join(missing)}.")
        base_url = settings.PUBLIC_BASE_URL if public_base_url is None else public_base_url
        self.status_callback = f"{base_url.rstrip('/')}{STATUS_CALLBACK_PATH}" if base_url else None
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.sleep = sleep
        # requests has no default timeout: without one a stalled Twilio call hangs the worker.
        http_client = TwilioHttpClient(timeout=timeout or settings.TWILIO_TIMEOUT_S)
        self.client = Client(account_sid, auth_token, http_client=http_client)

    def send(self, message: OutboundMessage) -> SendResult:
        """Create the message at Twilio, retrying connection errors, timeouts, 429 and 5xx with back-off.

        Other 4xx answers are permanent and not retried. A read timeout may hide a message that
        Twilio did create, so a retry can, rarely, deliver it twice: better than not at all.
        """
        params = self._create_params(message)
        for attempt in range(1, self.max_attempts + 1):
            try:
                created = self.client.messages.create(**params)
            except (TwilioException, requests.RequestException) as exc:
                error = _to_messaging_error(exc)
                if error.permanent or attempt == self.max_attempts:
                    logger.warning(
                        "Twilio send failed after %d attempt(s): status=%s code=%s permanent=%s",
                        attempt,
                        error.status,
                        error.code or "-",
                        error.permanent,
                    )
                    raise error from exc
                delay = self.backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "Twilio send attempt %d/%d failed (status=%s code=%s); retrying in %.1fs",
                    attempt,
                    self.max_attempts,
                    error.status,
                    error.code or "-",
                    delay,
                )
                self.sleep(delay)
                continue
            result = SendResult(
                sid=created.sid,
                status=str(created.status or ""),
                error_code=str(created.error_code or ""),
            )
            logger.info("Twilio message created: sid=%s status=%s attempts=%d", result.sid, result.status, attempt)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_params(self, message: OutboundMessage) -> dict[str, object]:
        from_ = self.from_number
        if message.to.startswith(WHATSAPP_PREFIX) and not from_.startswith(WHATSAPP_PREFIX):
            from_ = WHATSAPP_PREFIX + from_
        params: dict[str, object] = {"to": message.to, "from_": from_}
        if message.content_sid:
            params["content_sid"] = message.content_sid
            if message.content_variables:
                params["content_variables"] = message.content_variables
        else:
            params["body"] = message.body
        if message.media_urls:
            params["media_url"] = list(message.media_urls)
        if self.status_callback:
            params["status_callback"] = self.status_callback
        return params


class ConsoleBackend(BaseMessagingBackend):
    """Write messages to a stream (stdout by default), so the bot runs without Twilio."""

    def __init__(self, *, stream: TextIO | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> SendResult:
        """Write one message as a readable block; sid is None because nothing left the machine."""
        heading = f"--- WhatsApp to {message.to}" + (
            f" (template {message.content_sid})" if message.content_sid else ""
        )
        lines = [f"{heading} ---", message.body]
        lines += [f"[media] {url}" for url in message.media_urls]
        with self._lock:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        return SendResult(sid=None, status="console")


# The messages LocmemBackend "sent"; tests read and clear it, like django.core.mail.outbox.
outbox: list[OutboundMessage] = []
_outbox_lock = threading.Lock()


class LocmemBackend(BaseMessagingBackend):
    """Append messages to the module-level `outbox` list: the test backend."""

    def send(self, message: OutboundMessage) -> SendResult:
        """Store the message and return a fake sid numbered by its position in the outbox."""
        with _outbox_lock:
            outbox.append(message)
            sid = f"SMlocmem{len(outbox)}"
        return SendResult(sid=sid, status="queued")


_backend_override: ContextVar[str | None] = ContextVar("messaging_backend_override", default=None)


@contextlib.contextmanager
def using_backend(path: str) -> Iterator[None]:
    """Send through the backend at `path` inside this block, in this thread (`manage.py chat` prints replies).

    Work a worker picks up later (a retry, a background turn) uses the configured backend.
    """
    token = _backend_override.set(path)
    try:
        yield
    finally:
        _backend_override.reset(token)


def get_messaging_backend(path: str | None = None, **kwargs: object) -> BaseMessagingBackend:
    """Load the backend class at `path` (default `settings.MESSAGING_BACKEND`) and build it with `kwargs`.

    An old `webhooks.backends.…` path is loaded from here, so it works without the shim module.
    """
    configured = path or _backend_override.get() or settings.MESSAGING_BACKEND
    upgraded = upgrade_backend_path(configured)
    if upgraded != configured:
        logger.warning(
            "messaging backend %r is deprecated, loading %r: set MESSAGING_BACKEND to it", configured, upgraded
        )
    return load_backend_class(upgraded)(**kwargs)


def load_backend_class(path: str) -> type[BaseMessagingBackend]:
    """The backend class at `path` (an old `webhooks.backends.…` path included); ImproperlyConfigured if none.

    An import failure is the exception's cause, for callers that report it (`messaging.checks`).
    """
    path = upgrade_backend_path(path)
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"Cannot import messaging backend {path!r}: {exc}") from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseMessagingBackend)):
        raise ImproperlyConfigured(f"Messaging backend {path!r} is not a BaseMessagingBackend subclass.")
    return backend_class


def upgrade_backend_path(path: str) -> str:
    """Return `path` with a deprecated `webhooks.backends.` prefix replaced by `messaging.backends.`."""
    if path.startswith(DEPRECATED_PREFIX):
        return BACKENDS_PREFIX + path.removeprefix(DEPRECATED_PREFIX)
    return path


def is_valid_public_base_url(value: str) -> bool:
    """Tell whether `value` is `http(s)://host[:port][/path]`, with no credentials, query or fragment.

    PUBLIC_BASE_URL is the origin Twilio sees: the status callback sent with each message is built
    on it here, and the webhooks check inbound signatures against it.
    """
    if any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not parts.query
        and not parts.fragment
        and "?" not in value
        and "#" not in value
    )


def _to_messaging_error(exc: Exception) -> MessagingError:
    """Translate an SDK or transport error into ours, deciding whether it is worth retrying.

    Twilio's RFC-9457 `TwilioServiceException` is not a `TwilioRestException`: read `status`,
    `code` and the message off either one. Only Twilio's own text is kept, never the request.
    """
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return MessagingError(f"Could not reach Twilio: {type(exc).__name__}.", permanent=False)
    if isinstance(exc, requests.RequestException):
        return MessagingError(f"HTTP error talking to Twilio: {type(exc).__name__}.", permanent=False)
    status = getattr(exc, "status", None)
    status = status if isinstance(status, int) else None
    code = getattr(exc, "code", None)
    code = "" if code is None else str(code)
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None) or ""
    transient = status is not None and (status == 429 or status >= 500)
    text = f"Twilio refused the message (HTTP {status}, code {code or '-'})"
    if detail:
        text += f": {str(detail)[:200]}"
    return MessagingError(text, permanent=not transient, code=code, status=status)
