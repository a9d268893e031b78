"""A turn's lifecycle: the only code that writes `Turn.status`.

```
                  hand_to_background
   start ─▶ running ◀──────────────────▶ background
             │   │    resume_background
             │   └─ finish_turn ─▶ completed | fallback | paused
             └─ abandon_turn (recovery: worker lost) ─▶ abandoned ─▶ resolve_abandoned ─▶ completed
                                                                       (or stays abandoned, messages re-queued)
```

Each transition is one conditional UPDATE from the statuses it expects, so a worker, the
webhook and recovery can race over a turn and exactly one of them wins; the loser learns it
from the return value and leaves the turn alone.
"""

import logging

from django.utils import timezone

from .models import OPEN_STATUSES, Turn

logger = logging.getLogger(__name__)

# The record a worker keeps on its Turn instance while it works: written by finish/wait_again.
_RECORD_FIELDS = tuple(
    field.attname for field in Turn._meta.concrete_fields if not field.primary_key and field.attname != "status"
)


def start_turn(*, user_phone: str, lease_token: str, engine: str, thread_id: str = "") -> Turn:
    """Open a running turn for `user_phone`, held by the worker whose lease is `lease_token`.

    `thread_id` is the user's conversation when the turn is bound for the model and has one.
    """
    return Turn.objects.create(user_phone=user_phone, engine=engine, lease_token=lease_token, thread_id=thread_id)


def discard_turn(turn: Turn) -> None:
    """Drop a turn that got no message to answer (another turn took them all)."""
    turn.delete()


def hand_to_background(turn: Turn, *, response_id: str) -> bool:
    """Leave a running turn waiting for OpenAI's background response `response_id`, with its record.

    Used when a turn starts in background mode and each time a resumed one sends the model more
    (tool outputs, a price correction). False when recovery closed the turn meanwhile.
    """
    turn.response_id = response_id
    return _move(turn, Turn.Status.BACKGROUND, expect=(Turn.Status.RUNNING,))


def resume_background(*, turn_id: int, response_id: str) -> Turn | None:
    """Take the turn waiting on `response_id` to work on it; None when someone else took it (once only)."""
    taken = Turn.objects.filter(pk=turn_id, status=Turn.Status.BACKGROUND, response_id=response_id).update(
        status=Turn.Status.RUNNING
    )
    return Turn.objects.get(pk=turn_id) if taken else None


def finish_turn(turn: Turn, *, status: str) -> Turn:
    """Close the turn with its record, unless recovery closed it meanwhile (its verdict stands)."""
    turn.finished_at = timezone.now()
    turn.latency_ms = int((turn.finished_at - turn.started_at).total_seconds() * 1000)
    if not _move(turn, status, expect=OPEN_STATUSES):
        logger.warning("turn %s was closed by recovery before it finished", turn.pk)
        turn.status = status  # what this worker decided, for its caller; the row keeps recovery's
    return turn


def abandon_turn(turn: Turn) -> bool:
    """Mark a running turn whose worker died as abandoned (recovery); False if another recoverer won."""
    return bool(Turn.objects.filter(pk=turn.pk, status=Turn.Status.RUNNING).update(status=Turn.Status.ABANDONED))


def resolve_abandoned(turn: Turn, *, replied: bool) -> None:
    """Close an abandoned turn: completed when its reply had been written, else left abandoned, messages re-queued."""
    fields: dict = {"finished_at": timezone.now()}
    if replied:
        fields.update(status=Turn.Status.COMPLETED, error="recovered: reply sent after worker loss")
    else:
        fields.update(error="worker lost; messages re-queued")
    Turn.objects.filter(pk=turn.pk, status=Turn.Status.ABANDONED).update(**fields)


def _move(turn: Turn, status: str, *, expect: tuple[str, ...]) -> bool:
    """Write `status` and the turn's record in one UPDATE, if the turn is still in one of `expect`."""
    moved = Turn.objects.filter(pk=turn.pk, status__in=expect).update(
        status=status, **{name: getattr(turn, name) for name in _RECORD_FIELDS}
    )
    if moved:
        turn.status = status
    return bool(moved)
