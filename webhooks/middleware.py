"""A webhook's body is judged before anyone reads it: its type (415), its size (413).

Twilio and OpenAI send small bodies of one known type. Anything else — a multipart upload,
which Django would stream to a temporary file before the view could check a signature, or a
body of megabytes — is refused from the headers alone, before a byte of it is read. A chunked
body without a length is read here, at most `WEBHOOK_MAX_BODY_BYTES`, and refused past that.

Placed first in `MIDDLEWARE`, so its `process_view` judges the body before any other middleware's.
Views opt in by naming the one content type they accept (`body_content_type`).
"""

import codecs
import logging
from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_READ_CHUNK = 64 * 1024


class WebhookBodyMiddleware:
    """Refuse a webhook request whose body has the wrong type (415) or is too large (413), unread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict):
        """Judge the body once Django has resolved the view (no second URL lookup), before any view reads it.

        No middleware reads a body before views run, and this one's `process_view` comes first.
        """
        expected = getattr(getattr(view_func, "view_class", None), "body_content_type", None)
        return _judge(request, expected) if expected is not None else None


def _judge(request: HttpRequest, expected: str) -> HttpResponse | None:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if request.method == "POST" and (request.content_type or "").lower() != expected:
        logger.warning(
            "refusing %s to %s: content type %.80r, expected %s",
            request.method,
            request.path,
            request.content_type,
            expected,
        )
        return JsonResponse({"error": f"unsupported content type: send {expected}"}, status=415)
    if request.method == "POST" and (refused := _judge_charset(request)) is not None:
        return refused
    if declared:
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length < 0:
            return JsonResponse({"error": "invalid Content-Length"}, status=400)
        if length > limit:
            return _too_large(request, f"Content-Length {length}", limit)
    elif chunked:
        return _read_chunked(request, limit)
    return None


def _judge_charset(request: HttpRequest) -> HttpResponse | None:
    """Refuse a charset other than UTF-8 (415); take any name of UTF-8 ("utf8", "UTF-8") as UTF-8.

    Django reads a form as UTF-8 only and raises on any other charset it knows, "utf8" included:
    an HTML 400 with a traceback in the log, a 500 under DEBUG. Names it does not know it ignores.
    """
    charset = (request.content_params or {}).get("charset")
    if charset is None:
        return None
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return None  # Django ignores it too, and reads UTF-8
    if name == "utf-8":
        request.encoding = "utf-8"
        return None
    logger.warning("refusing %s to %s: charset %.40r, expected UTF-8", request.method, request.path, charset)
    return JsonResponse({"error": "unsupported charset: send UTF-8"}, status=415)


def _read_chunked(request: HttpRequest, limit: int) -> HttpResponse | None:
    """Read a body sent without a length, at most `limit` bytes, and hand it to Django as if it had one.

    Under WSGI Django reads no more than Content-Length, so without one the view would see an
    empty body. What was read becomes the request's stream, as `HttpRequest.body` does itself.
    """
    stream = getattr(request, "environ", {}).get("wsgi.input")
    if stream is None:
        return None
    buffer = BytesIO()
    while buffer.tell() <= limit:
        data = stream.read(min(_READ_CHUNK, limit + 1 - buffer.tell()))
        if not data:
            break
        buffer.write(data)
    if buffer.tell() > limit:
        return _too_large(request, "a chunked body", limit)
    body = buffer.getvalue()
    request.META["CONTENT_LENGTH"] = str(len(body))
    request._stream = BytesIO(body)  # what HttpRequest.body does with what it read
    return None


def _too_large(request: HttpRequest, what: str, limit: int) -> HttpResponse:
    logger.warning(
        "refusing %s to %s: %s is over WEBHOOK_MAX_BODY_BYTES (%d)", request.method, request.path, what, limit
    )
    return JsonResponse({"error": f"request body too large: at most {limit} bytes"}, status=413)
