"""Per-user leases: the database lock that serialises a user's turns across processes and hosts.

A lease is a token and an expiry on the user's `Contact` row, taken and released with single
conditional UPDATEs (atomic on PostgreSQL and SQLite alike) and no transaction held while the
model thinks. Times come from the database clock, so hosts with skewed clocks still agree.

A worker keeps its lease alive with a heartbeat (`LeaseKeeper`) for as long as it works, however
long OpenAI takes; only a worker that died stops renewing, so only its lease expires, and
recovery takes over exactly those.
"""

import logging
import threading
import time
import uuid
from datetime import timedelta

from django.db import connection
from django.db.models import DateTimeField, ExpressionWrapper, Q, Value
from django.db.models.functions import Now

from .models import Contact

logger = logging.getLogger(__name__)


def _expiry(ttl_s: float) -> ExpressionWrapper:
    return ExpressionWrapper(Now() + Value(timedelta(seconds=ttl_s)), output_field=DateTimeField())


def acquire_user_lease(user_phone: str, *, ttl_s: float) -> str | None:
    """Take the user's lease for `ttl_s` seconds; return its token, or None if someone else holds it.

    The contact row almost always exists (storing a message creates it), so the lease is taken
    first and the row created only when that found none: one statement on the hot path.
    """
    token = uuid.uuid4().hex
    if _take_lease(user_phone, token, ttl_s=ttl_s):
        return token
    _, created = Contact.objects.get_or_create(user_phone=user_phone)
    return token if created and _take_lease(user_phone, token, ttl_s=ttl_s) else None


def _take_lease(user_phone: str, token: str, *, ttl_s: float) -> bool:
    free = Q(lock_token="") | Q(lock_expires_at__isnull=True) | Q(lock_expires_at__lt=Now())
    return bool(Contact.objects.filter(free, pk=user_phone).update(lock_token=token, lock_expires_at=_expiry(ttl_s)))


def renew_user_lease(user_phone: str, token: str, *, ttl_s: float) -> bool:
    """Extend a lease we hold; False means it expired and was taken over (stop working on the user)."""
    return bool(Contact.objects.filter(pk=user_phone, lock_token=token).update(lock_expires_at=_expiry(ttl_s)))


def release_user_lease(user_phone: str, token: str) -> bool:
    """Give the lease back; False if it was no longer ours (it had expired and been taken)."""
    released = Contact.objects.filter(pk=user_phone, lock_token=token).update(lock_token="", lock_expires_at=None)
    if not released:
        logger.warning("lease for %s was lost before release", user_phone)
    return bool(released)


def take_over_expired_lease(user_phone: str, token: str, *, ttl_s: float) -> str | None:
    """Swap the expired lease of `token` (a worker that stopped renewing) for a new one of ours.

    Returns the new token, or None when that lease is still alive or no longer `token`'s. One
    compare-and-swap, so two recoverers never both take over the same dead turn.
    """
    new_token = uuid.uuid4().hex
    taken = Contact.objects.filter(pk=user_phone, lock_token=token, lock_expires_at__lt=Now()).update(
        lock_token=new_token, lock_expires_at=_expiry(ttl_s)
    )
    return new_token if taken else None


def is_lease_alive(user_phone: str, token: str) -> bool:
    """Tell whether `token` still holds the user's lease, unexpired (its worker is renewing it)."""
    return bool(token) and Contact.objects.filter(pk=user_phone, lock_token=token, lock_expires_at__gte=Now()).exists()


class LeaseKeeper:
    """Renew a lease from a background thread while the work inside the `with` block goes on.

    The model can take longer than any fixed lease (slow responses, SDK retries); renewing
    every `interval_s` keeps the lease of a live worker from expiring, while a dead worker's
    lease expires within `ttl_s`. `lost` turns True if the lease was taken meanwhile.
    """

    def __init__(self, user_phone: str, token: str, *, ttl_s: float, interval_s: float) -> None:
        self.user_phone, self.token, self.ttl_s, self.interval_s = user_phone, token, ttl_s, interval_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{user_phone}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last_renewed = time.monotonic()
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    renewed = renew_user_lease(self.user_phone, self.token, ttl_s=self.ttl_s)
                except Exception:  # a dropped connection, a locked SQLite: try again next tick
                    logger.exception("could not renew the lease of %s", self.user_phone)
                    renewed = None
                finally:
                    connection.close()  # don't hold a pooled connection between ticks
                if renewed:
                    last_renewed = time.monotonic()
                elif renewed is False or time.monotonic() - last_renewed >= self.ttl_s:
                    self.lost = True  # taken over, or expired while we could not renew
                    logger.warning("lease of %s was lost while working", self.user_phone)
                    return
        finally:
            connection.close()


def is_user_lease_held(user_phone: str) -> bool:
    return Contact.objects.filter(pk=user_phone, lock_expires_at__gte=Now()).exclude(lock_token="").exists()
