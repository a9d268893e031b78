"""Budgets: how many model turns, and how many dollars, a user and the whole deployment may spend a day.

The limits (`USER_DAILY_TURN_LIMIT`, `USER_DAILY_COST_LIMIT_USD`, `DAILY_COST_LIMIT_USD`) are
checked before a turn asks the model, against the turn records of the rolling last 24 hours,
so they hold across processes and hosts. A turn whose cost is unknown (a model with no price)
counts as a turn but adds nothing to the dollars. Staff lift a user's limits by starting their
count afresh (`Contact.limits_reset_at`); the deployment's limit cannot be lifted per user.

The dollar limits are checked before a turn and count finished turns: turns already at work
when the limit is reached finish, so the spend can pass a limit by what those cost (a user
has one turn at a time; the deployment, one per busy user).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from .models import Contact, Turn

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class BudgetExceeded:
    """Why a turn may not ask the model: `reason` goes to `Turn.fallback_reason`."""

    reason: str  # "limit_user_turns" | "limit_user_cost" | "limit_daily_cost"
    detail: str


@dataclass(frozen=True)
class UserSpend:
    """A user's model turns and dollars in the window that counts for their limits."""

    since: datetime
    turns: int
    cost_usd: Decimal


def check_budget(*, user_phone: str) -> BudgetExceeded | None:
    """Return the first limit the user (or the deployment) has reached, or None when the model may answer."""
    turn_limit = settings.USER_DAILY_TURN_LIMIT
    user_cost_limit = settings.USER_DAILY_COST_LIMIT_USD
    if turn_limit is not None or user_cost_limit is not None:
        spend = get_user_spend(user_phone=user_phone)
        if turn_limit is not None and spend.turns >= turn_limit:
            return BudgetExceeded("limit_user_turns", f"{spend.turns} model turns since {spend.since:%Y-%m-%d %H:%M}")
        if user_cost_limit is not None and spend.cost_usd >= user_cost_limit:
            return BudgetExceeded("limit_user_cost", f"${spend.cost_usd:.4f} spent, limit ${user_cost_limit}")
    daily_limit = settings.DAILY_COST_LIMIT_USD
    if daily_limit is not None:
        spent = get_deployment_spend()
        if spent >= daily_limit:
            return BudgetExceeded("limit_daily_cost", f"${spent:.4f} spent by everyone, limit ${daily_limit}")
    return None


def get_user_spend(*, user_phone: str) -> UserSpend:
    """Return the user's model turns and cost over the last 24 hours, or since staff lifted their limits."""
    since = timezone.now() - WINDOW
    reset_at = Contact.objects.filter(pk=user_phone).values_list("limits_reset_at", flat=True).first()
    if reset_at is not None and reset_at > since:
        since = reset_at
    totals = Turn.objects.filter(user_phone=user_phone, started_at__gte=since).aggregate(
        turns=Count("pk", filter=~Q(model="")), cost=Sum("cost_usd")
    )
    return UserSpend(since=since, turns=totals["turns"], cost_usd=totals["cost"] or Decimal(0))


def get_deployment_spend() -> Decimal:
    """Return what every turn of the last 24 hours cost, in USD."""
    cost = Turn.objects.filter(started_at__gte=timezone.now() - WINDOW).aggregate(cost=Sum("cost_usd"))["cost"]
    return cost or Decimal(0)


def lift_user_limits(*, user_phone: str) -> bool:
    """Start the user's daily count afresh from now; return whether the contact exists."""
    lifted = Contact.objects.filter(pk=user_phone).update(limits_reset_at=timezone.now())
    if lifted:
        logger.info("daily limits lifted for %s", user_phone)
    return bool(lifted)
