"""PostgreSQL's one-statement store of an inbound message: contact upsert, message insert and its task together.

The Twilio webhook is Brenda's hottest path, and compiling three ORM inserts (and the BEGIN and
COMMIT around them) cost more CPU than everything else it does. PostgreSQL runs the three writes
in one statement (data-modifying CTEs), atomic and durable on its own. The statement is built
once from the models' own metadata and then only filled in: a column added to `Contact`,
`Message` or `DBTaskResult` is picked up with its model default, as the ORM would do. What it
writes is what `message_log.record_inbound`'s portable ORM path and django-tasks-db's enqueue
write, and a duplicate `MessageSid` still fails the whole statement (nothing is written).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Field, Model
from django_tasks_db.models import DBTaskResult

from .models import Contact, Message

# Fields whose values each call gives (the rest take their model default).
_CONTACT_GIVEN = ("user_phone", "profile_name", "first_seen_at", "last_seen_at", "last_inbound_at", "last_activity_at")
_MESSAGE_GIVEN = ("user_phone", "direction", "origin", "twilio_sid", "body", "media", "created_at")


@dataclass(frozen=True)
class _Columns:
    """The columns of an INSERT and what goes in each: a value per call, a default per row, or a constant.

    Constant defaults are written into the SQL as literals (quoted by the driver): fewer
    parameters, and a statement short enough for psycopg to cache its parsing.
    """

    given: tuple[Field, ...]  # a parameter each, from the caller's values
    per_row: tuple[Field, ...]  # a parameter each, from a callable default, or `now` for auto_now(_add)
    constant: tuple[tuple[Field, str], ...]  # the default, as an SQL literal

    @property
    def names(self) -> list[str]:
        return [_quoted(f) for f in (*self.given, *self.per_row, *(f for f, _ in self.constant))]

    @property
    def placeholders(self) -> list[str]:
        return ["%s"] * (len(self.given) + len(self.per_row)) + [literal for _, literal in self.constant]

    def params(self, values: Mapping[str, Any], now: datetime) -> list[Any]:
        prepared = [f.get_db_prep_save(values[f.name], connection) for f in self.given]
        for f in self.per_row:
            value = now if _is_auto_now(f) else f.get_default()
            prepared.append(f.get_db_prep_save(value, connection))
        return prepared


def _is_auto_now(field_: Field) -> bool:
    return getattr(field_, "auto_now", False) or getattr(field_, "auto_now_add", False)


def _field(model: type[Model], name: str) -> Field:
    field_ = model._meta.get_field(name)
    assert isinstance(field_, Field) and field_.column, f"{model.__name__}.{name} is not a column"
    return field_


def _quoted(field_: Field) -> str:
    return connection.ops.quote_name(field_.column or "")


def _literal(value: Any) -> str:
    """`value` as an SQL literal, quoted by the driver (psycopg's client-side binding)."""
    return connection.ops.compose_sql("%s", [value])  # type: ignore[attr-defined]  # PostgreSQL's operations


def _columns(model: type[Model], given: Iterable[str], skip: Iterable[str] = ()) -> _Columns:
    """The insert columns of `model`: every concrete field but the auto pk, `db_default` ones and `skip`."""
    given_fields = tuple(_field(model, name) for name in given)
    names = {f.name for f in given_fields} | set(skip)
    defaulted = [
        f for f in model._meta.concrete_fields if f.name not in names and not f.db_returning and not f.has_db_default()
    ]
    per_row = tuple(f for f in defaulted if (f.has_default() and callable(f.default)) or _is_auto_now(f))
    constant = tuple(
        (f, _literal(f.get_db_prep_save(f.get_default(), connection))) for f in defaulted if f not in per_row
    )
    return _Columns(given=given_fields, per_row=per_row, constant=constant)


@dataclass(frozen=True)
class _Statement:
    sql: str
    contact: _Columns
    message: _Columns
    task: _Columns | None


@cache
def _statement(touched: tuple[str, ...], task_fields: tuple[str, ...] | None) -> _Statement:
    """Build (once per set of contact fields to touch, and of task fields given) the statement."""
    contact = _columns(Contact, _CONTACT_GIVEN)
    message = _columns(Message, _MESSAGE_GIVEN, skip=("status",))
    task = None if task_fields is None else _columns(DBTaskResult, task_fields)
    qn = connection.ops.quote_name
    columns = [_quoted(_field(Contact, name)) for name in touched]
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
    paused = _quoted(_field(Contact, "bot_paused"))
    contact_pk, message_id = _quoted(_field(Contact, Contact._meta.pk.name)), _quoted(_field(Message, "id"))
    status = _quoted(_field(Message, "status"))
    # Only quoted names from the models' metadata and driver-quoted literals go into the text; values are parameters.
    parts = [
        f"WITH contact AS (INSERT INTO {qn(Contact._meta.db_table)} ({', '.join(contact.names)}) "  # noqa: S608
        f"VALUES ({', '.join(contact.placeholders)}) "
        f"ON CONFLICT ({contact_pk}) DO UPDATE SET {updates} RETURNING {paused}), "
        f"message AS (INSERT INTO {qn(Message._meta.db_table)} ({', '.join(message.names)}, {status}) "
        f"SELECT {', '.join(message.placeholders)}, CASE WHEN contact.{paused} THEN %s ELSE %s END "
        f"FROM contact RETURNING {message_id}, {status})"
    ]
    if task is not None:
        # Every data-modifying part of a WITH runs to completion, read or not; all commit or fail together.
        parts.append(
            f", task AS (INSERT INTO {qn(DBTaskResult._meta.db_table)} ({', '.join(task.names)}) "  # noqa: S608
            f"VALUES ({', '.join(task.placeholders)}))"
        )
    parts.append(f" SELECT {message_id}, {status} FROM message")  # noqa: S608
    return _Statement(sql="".join(parts), contact=contact, message=message, task=task)


def store_inbound(
    *,
    contact: Mapping[str, Any],
    touched: Sequence[str],
    message: Mapping[str, Any],
    status_if_paused: str,
    status: str,
    now: datetime,
    task: Mapping[str, Any] | None = None,
) -> tuple[int, str]:
    """Upsert the contact, insert the message and its task; return the message's id and status.

    `touched` are the contact's fields updated when it exists. The message's status is
    `status_if_paused` when the contact's `bot_paused` (as stored, or its default for a new
    contact) is true, else `status`. `task` holds a `DBTaskResult` row's values
    (`scheduling.TaskRow.values`), inserted in the same statement when given. One statement is
    one transaction of its own (autocommit), or part of the caller's. Raises `IntegrityError` on a
    duplicate `twilio_sid`, like the ORM insert, and then nothing at all is written.
    """
    statement = _statement(tuple(touched), None if task is None else tuple(task))
    params = [
        *statement.contact.params(contact, now),
        *statement.message.params(message, now),
        status_if_paused,
        status,
    ]
    if statement.task is not None and task is not None:
        params += statement.task.params(task, now)
    with _server_bound_cursor() as cursor:
        cursor.execute(statement.sql, params)
        message_id, stored_status = cursor.fetchone()
    return message_id, stored_status


def _server_bound_cursor():
    """A Django cursor (error translation, query logging) over a psycopg cursor that binds on the server.

    Django's cursors bind client-side, so PostgreSQL parses and plans the statement's full text on
    every call: half of its cost for this one. Bound server-side, psycopg prepares it once per
    connection (after `prepare_threshold` runs, settings.DATABASES) and then only sends the values.
    """
    connection.ensure_connection()
    connection.validate_thread_sharing()
    cursor = psycopg.Cursor(connection.connection)  # what Django's own cursor() wraps, bound the other way
    # django-stubs type these as taking Django's wrapper; Django passes them the driver's cursor, as here.
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    return wrap(cursor)  # type: ignore[arg-type]
