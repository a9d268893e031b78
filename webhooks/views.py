"""Brenda's HTTP surface: Twilio and OpenAI webhooks, and the health endpoints.

Views stay thin: verify who is calling, validate the form, store or enqueue through the
threads app, and answer at once. The conversation itself runs in a background task.
"""

import logging
from functools import partial

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from twilio.twiml.messaging_response import MessagingResponse

from threads import message_log, repository
from threads.tasks import handle_openai_response_task, process_user_messages_task

from .models import OpenAIWebhookEvent
from .serializers import TwilioInboundSerializer, TwilioStatusSerializer, clean_form
from .signatures import is_openai_webhook_configured, is_valid_twilio_request, unwrap_openai_event

logger = logging.getLogger(__name__)

RESPONSE_EVENTS = frozenset({"response.completed", "response.failed", "response.cancelled", "response.incomplete"})
MAX_EVENT_ID_CHARS = 255
MAX_EVENT_TYPE_CHARS = 100


def _error(message: str, *, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _forbidden() -> JsonResponse:
    return _error("invalid or missing X-Twilio-Signature", status=403)


@method_decorator(csrf_exempt, name="dispatch")
class TwilioInboundView(View):
    """`POST /webhooks/twilio`: store an inbound WhatsApp message once and hand it to a task."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_valid_twilio_request(request):
            return _forbidden()
        form = TwilioInboundSerializer(data=clean_form(request.POST))
        if not form.is_valid():
            logger.info("rejecting malformed Twilio inbound form: %s", sorted(form.errors))
            return _error("invalid Twilio inbound message", status=400, fields=form.errors)
        data = form.validated_data
        user_phone = data["From"]
        message, created = message_log.record_inbound(
            user_phone=user_phone,
            twilio_sid=data["MessageSid"],
            body=data["Body"],
            media=data["media"],
            profile_name=data["ProfileName"],
        )
        if created or message_log.is_stranded(message):
            # After commit (at once, unless a caller wrapped us in a transaction), so a worker
            # never picks up a task for a message it cannot see yet. A re-delivery of a message
            # whose task never got queued (the enqueue failed with a 500) queues it now.
            transaction.on_commit(partial(_enqueue_user_messages, user_phone))
        logger.info(
            "inbound %s from %s stored as #%s (%s, %d media)",
            data["MessageSid"],
            user_phone,
            message.pk,
            "new" if created else "duplicate",
            len(data["media"]),
        )
        return HttpResponse(str(MessagingResponse()), content_type="text/xml")


def _enqueue_user_messages(user_phone: str) -> None:
    process_user_messages_task.enqueue(user_phone)


@method_decorator(csrf_exempt, name="dispatch")
class TwilioStatusView(View):
    """`POST /webhooks/twilio/status`: move an outbound message's delivery status forward."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_valid_twilio_request(request):
            return _forbidden()
        form = TwilioStatusSerializer(data=clean_form(request.POST))
        if not form.is_valid():
            logger.info("rejecting malformed Twilio status callback: %s", sorted(form.errors))
            return _error("invalid Twilio status callback", status=400, fields=form.errors)
        data = form.validated_data
        known = message_log.apply_delivery_status(
            twilio_sid=data["MessageSid"], status=data["MessageStatus"], error_code=data["ErrorCode"]
        )
        if known:
            logger.info("status %s for %s", data["MessageStatus"], data["MessageSid"])
        else:
            logger.info("status %s for unknown message %s ignored", data["MessageStatus"], data["MessageSid"])
        return HttpResponse(status=200)


@method_decorator(csrf_exempt, name="dispatch")
class OpenAIWebhookView(View):
    """`POST /webhooks/openai`: verify an OpenAI event, record it once, resume the waiting turn.

    Without `OPENAI_WEBHOOK_SECRET` nothing can be verified: the answer is 503, so OpenAI keeps
    retrying until the operator sets it, rather than 400, which would blame the sender.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not is_openai_webhook_configured():
            logger.error("OpenAI webhook received but OPENAI_WEBHOOK_SECRET is not set")
            return _error("OpenAI webhooks are not configured on this server (OPENAI_WEBHOOK_SECRET)", status=503)
        try:
            event = unwrap_openai_event(body=request.body, headers=request.headers)
        except ValueError as exc:
            logger.warning("rejecting OpenAI webhook: %s", type(exc).__name__)
            return _error("invalid OpenAI webhook signature or payload", status=400)
        event_id = getattr(event, "id", None)
        event_type = getattr(event, "type", None)
        if not _is_short_text(event_id, MAX_EVENT_ID_CHARS) or not _is_short_text(event_type, MAX_EVENT_TYPE_CHARS):
            logger.warning("rejecting OpenAI webhook without a usable event id or type")
            return _error("OpenAI webhook event lacks an id or a type", status=400)
        response_id = getattr(getattr(event, "data", None), "id", None)
        try:
            with transaction.atomic():
                OpenAIWebhookEvent.objects.create(event_id=event_id, type=event_type)
                if event_type in RESPONSE_EVENTS and isinstance(response_id, str) and response_id:
                    transaction.on_commit(partial(_enqueue_response_event, event_id, event_type, response_id))
        except IntegrityError:
            logger.info("OpenAI event %s (%s) already received; ignored", event_id, event_type)
            return JsonResponse({"status": "duplicate"})
        if event_type not in RESPONSE_EVENTS:
            logger.info("OpenAI event %s of type %s recorded and ignored", event_id, event_type)
            return JsonResponse({"status": "ignored"})
        if not response_id:
            logger.warning("OpenAI event %s (%s) carries no response id; ignored", event_id, event_type)
            return JsonResponse({"status": "ignored"})
        logger.info("OpenAI event %s: %s for %s", event_id, event_type, response_id)
        return JsonResponse({"status": "accepted"})


def _is_short_text(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _enqueue_response_event(event_id: str, event_type: str, response_id: str) -> None:
    """Enqueue the turn's continuation; if that fails, forget the event so OpenAI's retry gets in."""
    try:
        handle_openai_response_task.enqueue(event_type, response_id)
    except Exception:
        logger.exception("could not enqueue OpenAI event %s; forgetting it so a retry is accepted", event_id)
        OpenAIWebhookEvent.objects.filter(event_id=event_id).delete()
        raise


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
                "pending": _pending_task_count() if database.get("ok") else None,
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


def _pending_task_count() -> int | None:
    """Count tasks waiting (READY, deferred ones included) in django-tasks-db; None for other backends."""
    from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
    from django.tasks.base import TaskResultStatus
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
        return None
    try:
        return DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()
    except DatabaseError as exc:
        logger.warning("could not count pending tasks: %s", type(exc).__name__)
        return None
