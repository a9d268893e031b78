"""The thread mapping's repository: the functions of the design, and nothing else touches `oa_threads_map`."""

import logging
import time
from datetime import timedelta
from typing import TypedDict

import psycopg
from django.db import DatabaseError, connection
from django.db.models import Count, Q
from django.utils import timezone

from .models import THREAD_ID_PREFIXES, OaThreadMap

logger = logging.getLogger(__name__)

# How long the health check waits for a database connection (the pool's own timeout is 10 s).
HEALTH_DB_TIMEOUT_S = 2.0


class MappingStatistics(TypedDict):
    total_mappings: int
    created_last_24h: int
    updated_last_24h: int


class HealthReport(TypedDict, total=False):
    ok: bool
    latency_ms: float
    error: str


def get_thread_id(user_phone: str) -> str | None:
    return OaThreadMap.objects.filter(pk=user_phone).values_list("thread_id", flat=True).first()


def save_thread_id(user_phone: str, thread_id: str) -> None:
    """Insert or replace the user's thread id in one statement (ON CONFLICT DO UPDATE).

    A single upsert is safe when two processes race for the same phone: the last writer
    wins and neither sees an IntegrityError. `created_at` keeps its first value.
    """
    OaThreadMap.objects.bulk_create(
        [OaThreadMap(user_phone=user_phone, thread_id=thread_id, updated_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["user_phone"],
        update_fields=["thread_id", "updated_at"],
    )


def touch_mapping(user_phone: str) -> None:
    """Record activity on the mapping (its `updated_at`) without changing the thread."""
    OaThreadMap.objects.filter(pk=user_phone).update(updated_at=timezone.now())


def use_mapping(user_phone: str) -> str | None:
    """Record activity on the user's mapping (as `touch_mapping`) and return its thread id; None without one.

    A turn about to talk in the conversation does both, so they are one statement: UPDATE …
    RETURNING, which PostgreSQL and SQLite have but Django's `update()` does not expose.
    """
    if not connection.features.can_return_rows_from_update:
        thread_id = get_thread_id(user_phone)
        if thread_id is not None:
            touch_mapping(user_phone)
        return thread_id
    updated_at = OaThreadMap._meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(_USE_MAPPING_SQL, [updated_at, user_phone])
        row = cursor.fetchone()
    return row[0] if row else None


# The table and column names are the design's (DESIGN.md, "Tables").
_USE_MAPPING_SQL = "UPDATE oa_threads_map SET updated_at = %s WHERE user_phone = %s RETURNING thread_id"


def get_user_phone_by_thread_id(thread_id: str) -> str | None:
    return OaThreadMap.objects.filter(thread_id=thread_id).values_list("user_phone", flat=True).first()


def delete_mapping(user_phone: str) -> bool:
    """Delete the user's mapping; return whether there was one."""
    deleted, _ = OaThreadMap.objects.filter(pk=user_phone).delete()
    return deleted > 0


def get_all_mappings(limit: int = 100) -> list[OaThreadMap]:
    """Return the most recently active mappings first."""
    return list(OaThreadMap.objects.order_by("-updated_at", "-created_at")[: max(0, limit)])


def get_mapping_statistics() -> MappingStatistics:
    since = timezone.now() - timedelta(hours=24)
    counts = OaThreadMap.objects.aggregate(
        total_mappings=Count("pk"),
        created_last_24h=Count("pk", filter=Q(created_at__gte=since)),
        updated_last_24h=Count("pk", filter=Q(updated_at__gte=since)),
    )
    return MappingStatistics(
        total_mappings=counts["total_mappings"],
        created_last_24h=counts["created_last_24h"],
        updated_last_24h=counts["updated_last_24h"],
    )


def get_mappings_with_prefix(prefix: str, *, limit: int | None = None) -> list[OaThreadMap]:
    """Return the mappings whose thread id starts with `prefix` (e.g. the legacy `thread_`), by phone."""
    mappings = OaThreadMap.objects.filter(thread_id__startswith=prefix).order_by("user_phone")
    return list(mappings if limit is None else mappings[: max(0, limit)])


def count_mappings_by_engine() -> dict[str, int]:
    """Count mappings per engine, told by the thread id's prefix: `responses`, `assistants`, `unknown`."""
    counts = OaThreadMap.objects.aggregate(
        total=Count("pk"),
        **{
            engine: Count("pk", filter=Q(thread_id__startswith=prefix)) for engine, prefix in THREAD_ID_PREFIXES.items()
        },
    )
    return {
        "responses": counts["responses"],
        "assistants": counts["assistants"],
        "unknown": counts["total"] - counts["responses"] - counts["assistants"],
    }


def health_check() -> HealthReport:
    """Check that the mapping table answers; report the error class only (messages can carry DSNs).

    A database that does not answer is reported within `HEALTH_DB_TIMEOUT_S`, not after the
    pool's own timeout: a load balancer's probe gives up sooner, and every probe would hold a
    server thread for that long while the database is down.
    """
    started = time.perf_counter()
    try:
        _wait_for_a_pooled_connection(HEALTH_DB_TIMEOUT_S)
        OaThreadMap.objects.exists()
    except (DatabaseError, psycopg.Error) as exc:
        logger.warning("thread mapping health check failed: %s", type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _wait_for_a_pooled_connection(timeout_s: float) -> None:
    """With psycopg's pool, wait at most `timeout_s` for a connection (`PoolTimeout` after); no-op without one."""
    pool = getattr(connection, "pool", None)  # PostgreSQL with DATABASES' "pool" option
    if pool is None or connection.connection is not None:
        return
    pool.open()  # what Django does before its first connection; a no-op on an open pool
    pool.putconn(pool.getconn(timeout=timeout_s))
