"""Who really sent a webhook: Twilio's `X-Twilio-Signature` and OpenAI's Standard Webhooks signature."""

import hmac
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import openai
from django.conf import settings
from django.http import HttpRequest
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

logger = logging.getLogger(__name__)

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
OPENAI_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# Several signatures may be sent (key rotation): a few hundred characters. Longer is not OpenAI.
MAX_OPENAI_HEADER_CHARS = 4096


def twilio_request_url(request: HttpRequest) -> str:
    """Return the URL Twilio called, the one its signature covers (scheme and query string included).

    Behind a proxy or tunnel Django sees `http://internal-host/...` while Twilio signed
    `https://public-host/...`; hence `PUBLIC_BASE_URL`, the external origin (plus any path
    prefix the proxy strips).
    """
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def is_valid_twilio_request(request: HttpRequest) -> bool:
    """Tell whether the request carries a valid Twilio signature (always true when validation is off).

    Twilio signs with the account's auth token (HMAC-SHA1), or, where a Webhook Rule of its
    Webhooks configuration API matches the URL, with that rule's shared key and algorithm, named
    in `X-Twilio-Webhooks-Signature-Settings`. Either way an empty secret would make the HMAC
    forgeable by anyone, so it never validates.
    """
    if not settings.TWILIO_VALIDATE_SIGNATURE:
        return True
    url = twilio_request_url(request)
    # The validator raises TypeError on a None signature: a missing header is "".
    signature = request.headers.get(TWILIO_SIGNATURE_HEADER) or ""
    signed_with = request.headers.get(SIGNATURE_SETTINGS_HEADER) or ""
    if signed_with:
        if not settings.TWILIO_SHARED_KEY_SECRETS:
            logger.error(
                "rejecting Twilio webhook %s: it is signed with a shared key (%s: %.100r) but "
                "TWILIO_SHARED_KEY_SECRETS is not set",
                request.path,
                SIGNATURE_SETTINGS_HEADER,
                signed_with,
            )
            return False
        algorithm = get_signature_algorithm(signed_with)
        # More than one secret while a key is being rotated: any of them may have signed.
        valid = any(
            _twilio_validator(secret).validate(url, request.POST, signature, algorithm)
            for secret in settings.TWILIO_SHARED_KEY_SECRETS
        )
        secret_names = "TWILIO_SHARED_KEY_SECRETS"
    elif not settings.TWILIO_AUTH_TOKEN:
        logger.error("rejecting Twilio webhook %s: TWILIO_AUTH_TOKEN is not set", request.path)
        return False
    else:
        valid = _signed_with_auth_token(url, request.POST, signature)
        secret_names = "TWILIO_AUTH_TOKEN"
    if valid:
        return True
    logger.warning(
        "rejecting Twilio webhook: %s signature for %s (check PUBLIC_BASE_URL and %s)",
        "invalid" if signature else "missing",
        url,
        secret_names,
    )
    return False


def _signed_with_auth_token(url: str, params: Mapping[str, Any], signature: str) -> bool:
    validator = _twilio_validator(settings.TWILIO_AUTH_TOKEN)
    # The URL as Twilio gave it signs almost every request: one HMAC. `validate` computes two (the URL with
    # and without its port, since Twilio's own signing varies), so it only judges what this one rejects.
    if hmac.compare_digest(validator.compute_signature(url, params).encode(), signature.encode()):
        return True
    return validator.validate(url, params, signature)


def is_openai_webhook_configured() -> bool:
    return bool(settings.OPENAI_WEBHOOK_SECRET)


def unwrap_openai_event(*, body: bytes, headers: Mapping[str, str]) -> Any:
    """Verify an OpenAI webhook (signature and 300 s replay window) and return its parsed event.

    Raise `ValueError` when it cannot be trusted or read: the SDK's
    `InvalidWebhookSignatureError` (bad signature, stale or future timestamp), a plain
    `ValueError` for a missing or malformed header (non-ASCII, huge) or a body nested too deep
    to parse, and JSON or UTF-8 errors for a body that is not an event.
    Callers check `is_openai_webhook_configured()` first: an empty secret is refused here.
    """
    secret = settings.OPENAI_WEBHOOK_SECRET
    if not secret:
        raise ValueError("OPENAI_WEBHOOK_SECRET is not set")
    for name, value in headers.items():
        # The SDK compares signatures with hmac.compare_digest, which raises TypeError on non-ASCII text.
        if name.lower() in OPENAI_SIGNATURE_HEADERS and (not value.isascii() or len(value) > MAX_OPENAI_HEADER_CHARS):
            raise ValueError(f"malformed {name.lower()} header")
    try:
        return _webhook_client(secret).webhooks.unwrap(body, dict(headers))
    except TypeError as exc:  # anything else the SDK cannot compare is still a bad signature, not a 500
        raise ValueError("malformed webhook signature headers") from exc
    except RecursionError as exc:  # a signed body nested too deep for the JSON parser
        raise ValueError("webhook body nested too deeply") from exc


@lru_cache(maxsize=4)
def _twilio_validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


@lru_cache(maxsize=4)
def _webhook_client(secret: str) -> openai.OpenAI:
    # Verification is local: the client never calls the API and needs no real key.
    return openai.OpenAI(api_key="unused", webhook_secret=secret)
