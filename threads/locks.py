"""Per-user leases: the database lock that serialises a user's turns across processes and hosts.

A lease is a token and an expiry on the user's `Contact` row, taken and released with single
conditional UPDATEs (atomic on PostgreSQL and SQLite alike) and no transaction held while the
model thinks. Times come from the database clock, so hosts with skewed clocks still agree. A
worker that dies holding a lease blocks that user only until the expiry.
"""

import logging
import uuid
from datetime import timedelta

from django.db.models import DateTimeField, ExpressionWrapper, Q, Value
from django.db.models.functions import Now

from .models import Contact

logger = logging.getLogger(__name__)


def _expiry(ttl_s: float) -> ExpressionWrapper:
    return ExpressionWrapper(Now() + Value(timedelta(seconds=ttl_s)), output_field=DateTimeField())


def acquire_user_lease(user_phone: str, *, ttl_s: float) -> str | None:
    """Take the user's lease for `ttl_s` seconds; return its token, or None if someone else holds it."""
    Contact.objects.get_or_create(user_phone=user_phone)
    token = uuid.uuid4().hex
    taken = (
        Contact.objects.filter(pk=user_phone)
        .filter(Q(lock_token="") | Q(lock_expires_at__isnull=True) | Q(lock_expires_at__lt=Now()))
        .update(lock_token=token, lock_expires_at=_expiry(ttl_s))
    )
    return token if taken else None


def renew_user_lease(user_phone: str, token: str, *, ttl_s: float) -> bool:
    """Extend a lease we hold; False means it expired and was taken over (stop working on the user)."""
    return bool(Contact.objects.filter(pk=user_phone, lock_token=token).update(lock_expires_at=_expiry(ttl_s)))


def release_user_lease(user_phone: str, token: str) -> bool:
    """Give the lease back; False if it was no longer ours (it had expired and been taken)."""
    released = Contact.objects.filter(pk=user_phone, lock_token=token).update(lock_token="", lock_expires_at=None)
    if not released:
        logger.warning("lease for %s was lost before release", user_phone)
    return bool(released)


def is_user_lease_held(user_phone: str) -> bool:
    return Contact.objects.filter(pk=user_phone, lock_expires_at__gte=Now()).exclude(lock_token="").exists()
