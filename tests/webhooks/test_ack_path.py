"""The acknowledgement path of `POST /webhooks/twilio`: what it writes, in how many statements and transactions."""

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from tests.webhooks.conftest import PHONE, inbound_params, twilio_signature
from threads.models import Contact, Message

pytestmark = pytest.mark.django_db

URL = "/webhooks/twilio"


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
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("INSERT")]
    assert [sql.split('"')[1] for sql in writes] == [
        "brenda_contacts",
        "brenda_messages",
        "django_tasks_database_dbtaskresult",
    ]
    assert "SELECT" not in statements  # the pause flag came back with the contact upsert
    assert Message.objects.get().status == Message.Status.HELD


def test_a_new_contact_is_not_taken_for_a_paused_one(client, database_tasks):
    signed_post(client, inbound_params())

    assert Message.objects.get().status == Message.Status.RECEIVED
    assert Contact.objects.get(pk=PHONE).last_inbound_at == Message.objects.get().created_at
