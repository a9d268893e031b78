"""`make bench`'s database: created under the name given, dropped only when the bench created it.

Runs against the PostgreSQL server of the test run (the `postgres` marker), with names of its own.
"""

import secrets

import psycopg
import pytest
from django.db import connection

from bench.common import BenchDatabase

pytestmark = pytest.mark.postgres


@pytest.fixture
def server_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


@pytest.fixture
def name(server_url):
    name = f"brenda_bench_test_{secrets.token_hex(4)}"
    yield name
    admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin(server_url: str, sql: str) -> None:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def exists(server_url: str, name: str) -> bool:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_the_bench_creates_its_database_and_drops_it(server_url, name):
    db = BenchDatabase(server_url=server_url, name=name)

    db.create()
    assert exists(server_url, name)
    assert db.scalar("SELECT current_database()") == name

    db.drop()
    assert not exists(server_url, name)


def test_an_existing_database_the_bench_did_not_create_is_refused_and_kept(server_url, name):
    admin(server_url, f'CREATE DATABASE "{name}"')
    db = BenchDatabase(server_url=server_url, name=name)

    with pytest.raises(RuntimeError, match="was not created by the bench"):
        db.create()
    db.drop()  # what the stack does on the way out

    assert exists(server_url, name)


def test_a_leftover_of_a_killed_bench_run_is_replaced(server_url, name):
    BenchDatabase(server_url=server_url, name=name).create()  # that run died before dropping it

    again = BenchDatabase(server_url=server_url, name=name)
    again.create()
    again.drop()

    assert not exists(server_url, name)


@pytest.mark.parametrize("bad", ["", "Brenda", "brenda-bench", 'x"; DROP DATABASE postgres; --', "a" * 64])
def test_a_database_name_outside_plain_identifiers_is_refused(server_url, bad):
    with pytest.raises(ValueError, match="bench database name"):
        BenchDatabase(server_url=server_url, name=bad)
