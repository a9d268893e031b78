"""Errors of the conversation side: the OpenAI engines, the adapter and the turn service."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pricing import Usage


class ThreadsError(Exception):
    """Base class of errors raised by the threads app.

    A run that fails after OpenAI did some work carries what it used (`usage`, `model`), so the
    turn's tokens and cost, and the budgets, count it.
    """

    usage: "Usage | None" = None
    model: str = ""


class OpenAINotConfigured(ThreadsError):
    """Raised when an engine is asked for but OpenAI (or the assistants engine's ASSISTANT_ID) is not configured."""


class EngineError(ThreadsError):
    """Raised when OpenAI fails a call after the SDK's own retries (status error, connection error, timeout)."""


class ThreadNotFound(EngineError):
    """Raised when the user's conversation/thread no longer exists remotely (HTTP 404)."""


class ThreadBusy(EngineError):
    """Raised when OpenAI refuses work because the conversation is locked or a run is still active."""


class RunFailed(EngineError):
    """Raised when a response or run ends failed, cancelled, incomplete or expired."""


class RunTimeout(EngineError):
    """Raised when a turn does not finish within OPENAI_RUN_TIMEOUT_S."""


class ToolRoundsExceeded(EngineError):
    """Raised when the model keeps calling tools beyond OPENAI_MAX_TOOL_ROUNDS."""


class ReplayError(ThreadsError):
    """Raised when a replay cannot start: an unreadable source or instructions file, or an engine it cannot use."""


class MediaUnavailable(ThreadsError):
    """Raised when a WhatsApp attachment cannot be fetched or understood; `reason` is a short stable code for logs.

    Reasons: host_not_allowed, not_configured, http_<status>, timeout, connection, too_large,
    content_mismatch, corrupt_audio, unsupported_audio, too_long, transcription_failed, no_speech.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
