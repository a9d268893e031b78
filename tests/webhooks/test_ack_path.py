"""The acknowledgement path of `POST /webhooks/twilio`: what it writes, in how many statements and transactions."""

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from tests.webhooks.conftest import PHONE, deliver_concurrently, inbound_params, twilio_signature
from threads import scheduling
from threads.models import Contact, Message

pytestmark = pytest.mark.django_db

URL = "/webhooks/twilio"
_SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def database_tasks(settings, twilio_settings):
    dummy = settings.TASKS
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
    yield settings
    settings.TASKS = dummy  # what the dummy_tasks fixture clears on its way out


def signed_post(client: Client, params: dict):
    return client.post(
        URL,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(f"http://testserver{URL}", params),
    )


def test_with_the_database_backend_the_task_is_written_in_the_message_transaction(client, database_tasks):
    # The test runs inside a transaction that never commits: a task queued "on commit" would not be there.
    response = signed_post(client, inbound_params())

    assert response.status_code == 200
    message = Message.objects.get()
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("process_user_messages_task")
    assert task.args_kwargs == {"args": [message.user_phone], "kwargs": {}}


def test_a_task_that_cannot_be_queued_leaves_no_message_behind(database_tasks):
    # A backend that serves another queue refuses the task: the message goes with it, and Twilio retries.
    database_tasks.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["elsewhere"]}}

    response = signed_post(Client(raise_request_exception=False), inbound_params())

    assert response.status_code == 500
    assert not Message.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_the_ack_writes_three_rows_and_reads_nothing(client, database_tasks):
    Contact.objects.create(user_phone=PHONE, bot_paused=True)

    with CaptureQueriesContext(connection) as queries:
        response = signed_post(client, inbound_params())

    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(_SAVEPOINTS)]
    assert re.findall(r'INSERT INTO "(\w+)"', " ".join(statements)) == [
        "brenda_contacts",
        "brenda_messages",
        "django_tasks_database_dbtaskresult",
    ]
    assert not [
        sql for sql in statements if sql.upper().startswith("SELECT")
    ]  # the pause flag came back with the upsert
    if connection.vendor == "postgresql":
        assert len(statements) == 1  # one statement: its own transaction, no BEGIN or COMMIT round trips
    assert Message.objects.get().status == Message.Status.HELD


@pytest.mark.postgres
def test_on_postgresql_the_ack_statement_is_prepared_once_per_connection(client, database_tasks):
    # Bound server-side, psycopg prepares it after its fifth run (prepare_threshold): PostgreSQL then only binds values.
    for n in range(7):
        assert signed_post(client, inbound_params(MessageSid=f"SM{n:032x}", ProfileName=f"Ana {n}")).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%brenda_messages%"])
        prepared = [row[0] for row in cursor.fetchall()]
    assert len(prepared) == 1
    assert (Message.objects.count(), DBTaskResult.objects.count()) == (7, 7)
    assert Contact.objects.get().profile_name == "Ana 6"


def test_a_new_contact_is_not_taken_for_a_paused_one(client, database_tasks):
    signed_post(client, inbound_params())

    assert Message.objects.get().status == Message.Status.RECEIVED
    assert Contact.objects.get(pk=PHONE).last_inbound_at == Message.objects.get().created_at


def test_the_task_row_is_the_one_the_task_backend_writes(client, database_tasks):
    """On PostgreSQL the task row is written by our own statement: it must be the row django-tasks-db writes."""
    signed_post(client, inbound_params())
    ours = DBTaskResult.objects.get()
    scheduling.Work(scheduling.PROCESS_USER_MESSAGES, (PHONE,)).run_soon_on_commit()  # the library's own enqueue
    theirs = DBTaskResult.objects.exclude(pk=ours.pk).get()

    def columns(row: DBTaskResult) -> dict:
        return {f.attname: getattr(row, f.attname) for f in DBTaskResult._meta.concrete_fields}

    differing = {name for name, value in columns(ours).items() if columns(theirs)[name] != value}
    assert differing == {"id", "enqueued_at"}
    assert ours.task_result.task.func is theirs.task_result.task.func


def test_the_stored_rows_hold_the_model_defaults(client, database_tasks):
    """Columns the one-statement path leaves to their defaults get what the ORM would give them."""
    signed_post(client, inbound_params())
    message, contact = Message.objects.get(), Contact.objects.get()

    expected_message = Message(
        user_phone=PHONE,
        direction=Message.Direction.INBOUND,
        origin=Message.Origin.USER,
        twilio_sid=message.twilio_sid,
        body=message.body,
        status=Message.Status.RECEIVED,
        created_at=message.created_at,
    )
    expected_contact = Contact(user_phone=PHONE, profile_name="Ana")
    for row, expected, set_by_us in (
        (message, expected_message, {"id", "updated_at"}),
        (contact, expected_contact, {"first_seen_at", "last_seen_at", "last_inbound_at", "last_activity_at"}),
    ):
        for field_ in type(row)._meta.concrete_fields:
            if field_.attname not in set_by_us:
                assert getattr(row, field_.attname) == getattr(expected, field_.attname), field_.name
    assert message.updated_at >= message.created_at
    assert contact.first_seen_at == contact.last_seen_at == contact.last_activity_at == message.created_at


def test_a_duplicate_writes_nothing_not_even_the_contact(client, database_tasks):
    signed_post(client, inbound_params())
    first_seen = Contact.objects.values_list("last_seen_at", "last_inbound_at", "profile_name").get()

    again = signed_post(client, inbound_params(ProfileName="Otra"))

    assert again.status_code == 200
    assert Contact.objects.values_list("last_seen_at", "last_inbound_at", "profile_name").get() == first_seen
    assert (Message.objects.count(), DBTaskResult.objects.count()) == (1, 1)


def test_a_consent_keyword_of_a_paused_user_is_received_not_held(client, database_tasks):
    Contact.objects.create(user_phone=PHONE, bot_paused=True)

    signed_post(client, inbound_params(Body="BAJA"))

    assert Message.objects.get().status == Message.Status.RECEIVED
    assert DBTaskResult.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_copies_with_the_database_backend_store_one_message_and_one_task(database_tasks):
    copies = 8

    statuses = deliver_concurrently(copies, lambda client: signed_post(client, inbound_params()).status_code)

    assert statuses == [200] * copies
    assert (Message.objects.count(), DBTaskResult.objects.count(), Contact.objects.count()) == (1, 1, 1)
