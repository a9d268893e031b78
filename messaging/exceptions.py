"""Errors of the messaging side: outbound WhatsApp messages and their backends."""

from django.core.exceptions import ImproperlyConfigured


class MessagingAppError(Exception):
    """Base class of errors raised by the messaging app."""


class MessagingError(MessagingAppError):
    """Raised when an outbound message cannot be sent: Twilio refused it, or kept failing after the retries.

    `permanent` tells the caller whether sending the same message again can help (a 4xx such as
    21617, "body too long", never will); `code` is Twilio's error code as a string ("" when
    unknown) and `status` the HTTP status, if there was a response. The text never holds secrets.
    """

    def __init__(self, message: str, *, permanent: bool = False, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.status = status


class MessagingNotConfigured(MessagingAppError, ImproperlyConfigured):
    """Raised when the Twilio backend is built without TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN or TWILIO_PHONE_NUMBER."""
