"""Brenda's HTTP surface: Twilio and OpenAI webhooks, and the health endpoints.

Views stay thin: verify who is calling, validate the form, hand it to one service of the
threads app (`threads.inbound`), log what it did and answer at once. The conversation itself
runs in a background task.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from twilio.twiml.messaging_response import MessagingResponse

from threads import health, inbound, message_log, repository
from threads.inbound import EventOutcome

from .middleware import FORM, JSON
from .models import OpenAIWebhookEvent
from .serializers import InvalidForm, clean_form, read_inbound_form, read_openai_event, read_status_form
from .signatures import is_openai_webhook_configured, is_valid_twilio_request, unwrap_openai_event

logger = logging.getLogger(__name__)

# What every Twilio inbound webhook answers (no reply in TwiML: replies go out through the API).
EMPTY_TWIML = str(MessagingResponse())


def _error(message: str, *, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _forbidden() -> JsonResponse:
    return _error("invalid or missing X-Twilio-Signature", status=403)


def _signed_twilio_form[F](
    request: HttpRequest, read: Callable[[dict[str, str]], F], what: str, logged_as: str
) -> F | JsonResponse:
    """The Twilio form `read` validates, or the answer to a request that is not one (400, 403).

    The form is parsed first, once: a form Django cannot parse (over DATA_UPLOAD_MAX_NUMBER_FIELDS
    fields, say) left to Django is an HTML 400 with a traceback in the log, and a 500 under DEBUG
    (its error page reads the form again): anyone could fill the log without a signature.
    """
    try:
        request.POST  # noqa: B018  (parsed and cached for the signature check and the form)
    except (BadRequest, SuspiciousOperation) as exc:
        logger.warning("rejecting %s to %s: unreadable form (%s)", request.method, request.path, type(exc).__name__)
        return _error("unreadable form body", status=400)
    if not is_valid_twilio_request(request):
        return _forbidden()
    try:
        return read(clean_form(request.POST))
    except InvalidForm as exc:
        logger.info("rejecting malformed Twilio %s: %s", logged_as, sorted(exc.errors))
        return _error(f"invalid Twilio {what}", status=400, fields=exc.errors)


@method_decorator(csrf_exempt, name="dispatch")
class TwilioInboundView(View):
    """`POST /webhooks/twilio`: store an inbound WhatsApp message once and hand it to a task."""

    http_method_names = ["post"]
    body_content_type = FORM  # judged before the body is read (WebhookBodyMiddleware)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = _signed_twilio_form(request, read_inbound_form, "inbound message", logged_as="inbound form")
        if isinstance(form, HttpResponse):
            return form
        result = inbound.accept_inbound_message(
            user_phone=form.sender,
            twilio_sid=form.message_sid,
            body=form.body,
            media=form.media,
            profile_name=form.profile_name,
        )
        logger.info(
            "inbound %s from %s stored as #%s (%s, %d media)",
            result.twilio_sid,
            result.user_phone,
            result.message_id,
            "new" if result.created else "duplicate, queued again" if result.queued else "duplicate",
            len(form.media),
        )
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@method_decorator(csrf_exempt, name="dispatch")
class TwilioStatusView(View):
    """`POST /webhooks/twilio/status`: move an outbound message's delivery status forward."""

    http_method_names = ["post"]
    body_content_type = FORM  # judged before the body is read (WebhookBodyMiddleware)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = _signed_twilio_form(request, read_status_form, "status callback", logged_as="status callback")
        if isinstance(form, HttpResponse):
            return form
        known = message_log.apply_delivery_status(
            twilio_sid=form.message_sid, status=form.status, error_code=form.error_code
        )
        if known:
            logger.info("status %s for %s", form.status, form.message_sid)
        else:
            logger.info("status %s for unknown message %s ignored", form.status, form.message_sid)
        return HttpResponse(status=200)


@method_decorator(csrf_exempt, name="dispatch")
class OpenAIWebhookView(View):
    """`POST /webhooks/openai`: verify an OpenAI event, record it once, resume the waiting turn.

    Without `OPENAI_WEBHOOK_SECRET` nothing can be verified: the answer is 503, so OpenAI keeps
    retrying until the operator sets it, rather than 400, which would blame the sender.
    """

    http_method_names = ["post"]
    body_content_type = JSON  # judged before the body is read (WebhookBodyMiddleware)

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_openai_webhook_configured():
            logger.error("OpenAI webhook received but OPENAI_WEBHOOK_SECRET is not set")
            return _error("OpenAI webhooks are not configured on this server (OPENAI_WEBHOOK_SECRET)", status=503)
        try:
            event = unwrap_openai_event(body=request.body, headers=request.headers)
        except ValueError as exc:
            logger.warning("rejecting OpenAI webhook: %s", type(exc).__name__)
            return _error("invalid OpenAI webhook signature or payload", status=400)
        fields = read_openai_event(event)
        if fields is None:
            logger.warning("rejecting OpenAI webhook without a usable event id or type")
            return _error("OpenAI webhook event lacks an id or a type", status=400)
        result = inbound.accept_openai_event(
            event_id=fields.event_id,
            event_type=fields.event_type,
            response_id=fields.response_id,
            ledger=OPENAI_EVENTS,
        )
        event_id, event_type = result.event_id, result.event_type
        match result.outcome:
            case EventOutcome.DUPLICATE:
                logger.info("OpenAI event %s (%s) already received; ignored", event_id, event_type)
                return JsonResponse({"status": "duplicate"})
            case EventOutcome.IGNORED:
                logger.info("OpenAI event %s of type %s recorded and ignored", event_id, event_type)
                return JsonResponse({"status": "ignored"})
            case EventOutcome.NO_RESPONSE_ID:
                logger.warning("OpenAI event %s (%s) carries no response id; ignored", event_id, event_type)
                return JsonResponse({"status": "ignored"})
        logger.info("OpenAI event %s: %s for %s", event_id, event_type, result.response_id)
        return JsonResponse({"status": "accepted"})


class OpenAIEventLedger:
    """The OpenAI events already received, in this app's `OpenAIWebhookEvent` table (`inbound.EventLedger`)."""

    def record(self, *, event_id: str, event_type: str) -> bool:
        """Insert the event; False when its unique `event_id` is there already (a concurrent copy included)."""
        try:
            with transaction.atomic():
                OpenAIWebhookEvent.objects.create(event_id=event_id, type=event_type)
        except IntegrityError:
            return False
        return True

    def forget(self, *, event_id: str) -> None:
        OpenAIWebhookEvent.objects.filter(event_id=event_id).delete()


OPENAI_EVENTS = OpenAIEventLedger()


class HealthView(APIView):
    """`GET /`: is the service up, and how is it configured? Flags and names only, never a secret."""

    def get(self, request: Request) -> Response:
        database = repository.health_check()
        payload = {
            "status": "ok" if database.get("ok") else "degraded",
            "service": "brenda",
            "environment": settings.ENVIRONMENT,
            "threads_integration": _openai_integration(),
            "database": database,
            "messaging": {
                "backend": settings.MESSAGING_BACKEND.rsplit(".", 1)[-1],
                "twilio_configured": _is_twilio_configured(),
            },
            "tasks": {
                "backend": settings.TASKS_BACKEND,
                "pending": health.count_pending_tasks() if database.get("ok") else None,
            },
        }
        return Response(payload, status=200 if database.get("ok") else 503)


class OpenAIHealthView(APIView):
    """`GET /webhooks/openai/health`: the OpenAI side's configuration, as flags."""

    def get(self, request: Request) -> Response:
        integration = _openai_integration()
        webhook_ready = is_openai_webhook_configured()
        if not integration["enabled"]:
            status = "disabled"
        elif integration["background_mode"] and not webhook_ready:
            status = "degraded"  # background turns would never hear back
        else:
            status = "ok"
        return Response(
            {
                "status": status,
                **integration,
                "webhook_secret_configured": webhook_ready,
                "base_url_custom": bool(settings.OPENAI_BASE_URL),
            }
        )


def _openai_integration() -> dict:
    return {
        "enabled": bool(settings.OPENAI_API_KEY),
        "engine": settings.OPENAI_ENGINE,
        "assistant_id_configured": bool(settings.ASSISTANT_ID),
        "background_mode": settings.OPENAI_BACKGROUND,
        "model": settings.OPENAI_MODEL,
    }


def _is_twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_PHONE_NUMBER)
