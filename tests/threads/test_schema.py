"""`oa_threads_map` has exactly the DDL of DESIGN.md, so external tools and old data keep working."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from threads.models import OaThreadMap

pytestmark = pytest.mark.django_db

TABLE = "oa_threads_map"


def thread_id_is_indexed(constraints):
    return any(c["index"] and c["columns"] == ["thread_id"] for c in constraints.values())


@pytest.mark.postgres
def test_postgres_columns_types_nullability_and_defaults():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT column_name, data_type, is_nullable, column_default
            FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = %s
            ORDER BY ordinal_position
            """,
            [TABLE],
        )
        columns = {name: (data_type, nullable, default) for name, data_type, nullable, default in cursor.fetchall()}

    assert columns == {
        "user_phone": ("text", "NO", None),
        "thread_id": ("text", "NO", None),
        "created_at": ("timestamp with time zone", "NO", "now()"),
        "updated_at": ("timestamp with time zone", "YES", "now()"),
    }


@pytest.mark.postgres
def test_postgres_primary_key_is_user_phone():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT kcu.column_name
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu
              ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
            WHERE tc.table_schema = current_schema() AND tc.table_name = %s AND tc.constraint_type = 'PRIMARY KEY'
            """,
            [TABLE],
        )
        assert [row[0] for row in cursor.fetchall()] == ["user_phone"]


@pytest.mark.postgres
def test_postgres_has_a_btree_index_on_thread_id():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s", [TABLE]
        )
        definitions = [row[0] for row in cursor.fetchall()]

    assert any("USING btree (thread_id)" in d for d in definitions), definitions


@pytest.mark.postgres
def test_postgres_raw_insert_of_phone_and_thread_fills_both_timestamps():
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (user_phone, thread_id) VALUES (%s, %s)", ["whatsapp:+5215500000000", "thread_x"]
        )
        cursor.execute(
            f"SELECT created_at, updated_at, now() FROM {TABLE} WHERE user_phone = %s", ["whatsapp:+5215500000000"]
        )
        created_at, updated_at, now = cursor.fetchone()

    assert created_at == now
    assert updated_at == now


def test_columns_and_thread_id_index_through_django_introspection():
    with connection.cursor() as cursor:
        description = {c.name: c for c in connection.introspection.get_table_description(cursor, TABLE)}
        constraints = connection.introspection.get_constraints(cursor, TABLE)
        primary_key = connection.introspection.get_primary_key_columns(cursor, TABLE)

    assert set(description) == {"user_phone", "thread_id", "created_at", "updated_at"}
    assert description["thread_id"].null_ok is False
    assert description["created_at"].null_ok is False
    assert description["updated_at"].null_ok is True
    assert primary_key == ["user_phone"]
    assert thread_id_is_indexed(constraints)


def test_insert_without_timestamps_gets_them_from_the_database():
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (user_phone, thread_id) VALUES (%s, %s)", ["whatsapp:+5215500000001", "conv_y"]
        )

    row = OaThreadMap.objects.get(pk="whatsapp:+5215500000001")
    assert abs(row.created_at - timezone.now()) < timedelta(minutes=1)
    assert abs(row.updated_at - timezone.now()) < timedelta(minutes=1)
