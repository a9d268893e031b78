"""Deprecated alias of `messaging.backends`, where the outbound messaging backends now live.

A MESSAGING_BACKEND naming `webhooks.backends.XBackend` keeps working: `get_messaging_backend()`
loads `messaging.backends.XBackend` instead (messaging.W001 asks for the new value), and code
importing this module gets the same objects, `outbox` included, with a DeprecationWarning.
"""

import warnings

from messaging.backends import (
    BaseMessagingBackend,
    ConsoleBackend,
    LocmemBackend,
    OutboundMessage,
    SendResult,
    TwilioBackend,
    get_messaging_backend,
    outbox,
)

__all__ = [
    "BaseMessagingBackend",
    "ConsoleBackend",
    "LocmemBackend",
    "OutboundMessage",
    "SendResult",
    "TwilioBackend",
    "get_messaging_backend",
    "outbox",
]

warnings.warn(
    "webhooks.backends is deprecated: import from messaging.backends "
    "(and set MESSAGING_BACKEND=messaging.backends.<name>).",
    DeprecationWarning,
    stacklevel=2,
)
