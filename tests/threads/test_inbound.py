"""The way in (`threads.inbound`), driven directly: an inbound message stored and queued once, an OpenAI event once."""

from datetime import timedelta

import pytest
from django.tasks import default_task_backend
from django.tasks.exceptions import InvalidTask
from django.utils import timezone

from threads.inbound import EventOutcome, accept_inbound_message, accept_openai_event
from threads.message_log import InboundMedia
from threads.models import Contact, Message, Turn
from webhooks.models import OpenAIWebhookEvent
from webhooks.views import OPENAI_EVENTS

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
SID = "SM" + "0123456789abcdef" * 2


@pytest.fixture
def dummy_tasks(settings):
    """Django's dummy task backend: enqueued tasks are recorded in `.results`, never run."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()
    yield default_task_backend
    default_task_backend.clear()


def enqueued(backend) -> list[tuple[str, list]]:
    return [(result.task.name, list(result.args)) for result in backend.results]


def accept(**overrides):
    return accept_inbound_message(
        **{"user_phone": PHONE, "twilio_sid": SID, "body": "Hola", "profile_name": "Ana", **overrides}
    )


class TestAcceptInboundMessage:
    def test_new_message_is_stored_with_its_contact_and_queued_after_commit(
        self, dummy_tasks, django_capture_on_commit_callbacks
    ):
        media = [InboundMedia(url="https://media.example.com/1", content_type="image/png")]

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = accept(media=media)

        message = Message.objects.get()
        assert (result.message_id, result.user_phone, result.twilio_sid) == (message.pk, PHONE, SID)
        assert (result.created, result.queued) == (True, True)
        assert (message.body, message.status) == ("Hola", Message.Status.RECEIVED)
        assert message.media == [{"url": "https://media.example.com/1", "content_type": "image/png"}]
        assert Contact.objects.get(pk=PHONE).profile_name == "Ana"
        assert dummy_tasks.results == []  # nothing before commit

        for callback in callbacks:
            callback()

        assert enqueued(dummy_tasks) == [("process_user_messages_task", [PHONE])]

    def test_a_copy_of_a_message_just_stored_is_a_duplicate_and_queues_nothing(
        self, dummy_tasks, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            first = accept()
        with django_capture_on_commit_callbacks(execute=True):
            copy = accept(body="otra copia")

        assert copy.message_id == first.message_id
        assert (copy.created, copy.queued) == (False, False)
        assert Message.objects.get().body == "Hola"
        assert len(dummy_tasks.results) == 1

    def test_a_redelivery_of_a_stranded_message_queues_it(self, dummy_tasks, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):  # the enqueue after commit never happened
            first = accept()
        Message.objects.update(created_at=timezone.now() - timedelta(seconds=20))

        with django_capture_on_commit_callbacks(execute=True):
            retried = accept()

        assert (retried.message_id, retried.created, retried.queued) == (first.message_id, False, True)
        assert enqueued(dummy_tasks) == [("process_user_messages_task", [PHONE])]

    def test_a_redelivery_of_a_message_a_turn_took_queues_nothing(
        self, dummy_tasks, django_capture_on_commit_callbacks
    ):
        accept()
        turn = Turn.objects.create(user_phone=PHONE)
        Message.objects.update(created_at=timezone.now() - timedelta(seconds=20), turn=turn)

        with django_capture_on_commit_callbacks(execute=True):
            retried = accept()

        assert (retried.created, retried.queued) == (False, False)
        assert dummy_tasks.results == []

    def test_a_message_of_a_paused_user_is_held_and_still_queued(self, dummy_tasks, django_capture_on_commit_callbacks):
        Contact.objects.create(user_phone=PHONE, bot_paused=True)

        with django_capture_on_commit_callbacks(execute=True):
            result = accept()

        assert Message.objects.get(pk=result.message_id).status == Message.Status.HELD
        assert enqueued(dummy_tasks) == [("process_user_messages_task", [PHONE])]


def accept_event(event_type="response.completed", *, event_id="evt_1", response_id: str | None = "resp_1"):
    return accept_openai_event(event_id=event_id, event_type=event_type, response_id=response_id, ledger=OPENAI_EVENTS)


class TestAcceptOpenAIEvent:
    @pytest.mark.parametrize(
        "event_type", ["response.completed", "response.failed", "response.cancelled", "response.incomplete"]
    )
    def test_response_event_is_recorded_and_its_turn_queued_after_commit(
        self, dummy_tasks, django_capture_on_commit_callbacks, event_type
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = accept_event(event_type, event_id="evt_abc", response_id="resp_123")

        assert result.outcome == EventOutcome.ACCEPTED
        assert (result.event_id, result.event_type, result.response_id) == ("evt_abc", event_type, "resp_123")
        assert OpenAIWebhookEvent.objects.get().event_id == "evt_abc"
        assert dummy_tasks.results == []

        for callback in callbacks:
            callback()

        assert enqueued(dummy_tasks) == [("handle_openai_response_task", [event_type, "resp_123"])]

    def test_the_same_event_id_again_is_a_duplicate(self, dummy_tasks, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            accept_event(event_id="evt_dup")
        with django_capture_on_commit_callbacks(execute=True):
            again = accept_event(event_id="evt_dup", response_id="resp_other")

        assert again.outcome == EventOutcome.DUPLICATE
        assert OpenAIWebhookEvent.objects.count() == 1
        assert enqueued(dummy_tasks) == [("handle_openai_response_task", ["response.completed", "resp_1"])]

    def test_another_event_type_is_recorded_and_ignored(self, dummy_tasks, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            result = accept_event("batch.completed", event_id="evt_batch", response_id="batch_1")

        assert result.outcome == EventOutcome.IGNORED
        assert OpenAIWebhookEvent.objects.get().type == "batch.completed"
        assert dummy_tasks.results == []

    def test_response_event_without_a_response_id_is_recorded_and_ignored(
        self, dummy_tasks, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            result = accept_event(response_id=None)

        assert result.outcome == EventOutcome.NO_RESPONSE_ID
        assert OpenAIWebhookEvent.objects.exists()
        assert dummy_tasks.results == []

    @pytest.mark.django_db(transaction=True)
    def test_event_whose_task_cannot_be_queued_is_forgotten_so_the_retry_gets_in(self, settings, dummy_tasks, caplog):
        # A backend that serves another queue refuses the task at enqueue time, after commit.
        settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend", "QUEUES": ["elsewhere"]}}

        with pytest.raises(InvalidTask):  # it reaches the webhook, which answers 500
            accept_event(event_id="evt_retry")

        assert not OpenAIWebhookEvent.objects.exists()
        assert any("forgetting it so a retry is accepted" in r.getMessage() for r in caplog.records)

        settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
        retried = accept_event(event_id="evt_retry")

        assert retried.outcome == EventOutcome.ACCEPTED
        assert OpenAIWebhookEvent.objects.filter(event_id="evt_retry").exists()
        assert enqueued(default_task_backend) == [("handle_openai_response_task", ["response.completed", "resp_1"])]
