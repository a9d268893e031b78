"""The staff-only view behind the transcript's players and thumbnails: one stored attachment, streamed.

Twilio's media URLs need the account's credentials, which must never reach a browser; this view
fetches the file on staff's behalf (or reads the local copy) and passes the bytes on. It opens
only attachments of stored messages, by message id and position: nothing a request says becomes
a URL to fetch.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404

from threads.attachments import open_for_staff
from threads.exceptions import MediaUnavailable
from threads.models import Message

logger = logging.getLogger(__name__)

# A user's voice and photos: never kept by a shared cache, nor by the browser (the admin's own
# `never_cache` says the same, and wins if anything here were laxer).
CACHE_CONTROL = "private, no-store"


def media_view(request: HttpRequest, message_id: int, index: int) -> HttpResponseBase:
    """Stream attachment `index` of message `message_id` to a staff member allowed to read messages.

    That is who may view the message log, or use the staff inbox (which shows every conversation).
    """
    if not (request.user.has_perm("threads.view_message") or request.user.has_perm("threads.use_inbox")):
        raise PermissionDenied
    message = get_object_or_404(Message, pk=message_id)
    try:
        opened = open_for_staff(message, index)
    except MediaUnavailable as exc:
        if exc.reason == "not_found":
            raise Http404("No such attachment.") from None
        logger.warning("staff media %s/%s unavailable: %s", message_id, index, exc)
        failure = HttpResponse(f"The attachment could not be fetched ({exc.reason}).", status=502)
        failure["Content-Type"] = "text/plain; charset=utf-8"
        failure["Cache-Control"] = CACHE_CONTROL
        return failure

    def stream():
        try:
            yield from opened.chunks
        except MediaUnavailable as exc:  # the transfer broke off: the player shows what arrived
            logger.warning("staff media %s/%s cut short: %s", message_id, index, exc)
        finally:
            opened.close()

    response = StreamingHttpResponse(stream(), content_type=opened.content_type)
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline" if opened.inline else f'attachment; filename="attachment-{index}"'
    return response
