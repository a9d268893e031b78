"""Staff services: resetting a user's thread (locally and at OpenAI), human takeover, writing as staff."""

import pytest

from threads import message_log, repository
from threads.models import Contact, Message
from threads.staff import ResetResult, reset_thread, send_staff_message, set_bot_paused

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
OTHER = "whatsapp:+5213398765432"
THIRD = "whatsapp:+5218112345678"


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("ana", is_staff=True)


class TestResetThread:
    def test_reset_deletes_only_that_users_mapping_and_reports_the_old_thread(self, openai_off):
        repository.save_thread_id(PHONE, "conv_old")
        repository.save_thread_id(OTHER, "conv_other")

        result = reset_thread(user_phone=PHONE)

        assert result == ResetResult(user_phone=PHONE, thread_id="conv_old", mapping_deleted=True, history_reset=True)
        assert repository.get_thread_id(PHONE) is None
        assert repository.get_thread_id(OTHER) == "conv_other"

    def test_reset_of_a_user_without_mapping_does_nothing(self, openai_off):
        result = reset_thread(user_phone=PHONE, delete_remote=True)

        assert result == ResetResult(user_phone=PHONE, thread_id=None, mapping_deleted=False)

    def test_reset_without_delete_remote_leaves_the_conversation_at_openai(self, fake_openai):
        conversation_id = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, conversation_id)
        fake_openai.reset_requests()

        result = reset_thread(user_phone=PHONE)

        assert result.mapping_deleted and not result.remote_deleted
        assert conversation_id in fake_openai.conversations
        assert fake_openai.requests == []

    def test_reset_with_delete_remote_deletes_the_conversation_at_openai(self, fake_openai):
        conversation_id = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, conversation_id)

        result = reset_thread(user_phone=PHONE, delete_remote=True)

        assert result.mapping_deleted and result.remote_deleted and result.remote_error == ""
        assert conversation_id not in fake_openai.conversations
        assert repository.get_thread_id(PHONE) is None

    @pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning")
    def test_a_legacy_thread_is_deleted_through_the_assistants_api_whatever_the_engine(self, fake_openai, settings):
        settings.ASSISTANT_ID = "asst_fake"  # the engine setting stays "responses"
        thread_id = fake_openai.client().beta.threads.create().id
        repository.save_thread_id(PHONE, thread_id)

        result = reset_thread(user_phone=PHONE, delete_remote=True)

        assert result.remote_deleted
        assert thread_id not in fake_openai.threads
        assert [c.method for c in fake_openai.calls(f"/threads/{thread_id}")] == ["DELETE"]

    def test_a_conversation_already_gone_at_openai_counts_as_deleted(self, fake_openai):
        conversation_id = fake_openai.client().conversations.create().id
        fake_openai.forget(conversation_id)
        repository.save_thread_id(PHONE, conversation_id)

        result = reset_thread(user_phone=PHONE, delete_remote=True)

        assert result.remote_deleted and result.mapping_deleted

    def test_an_openai_failure_still_resets_locally_and_says_why(self, fake_openai, caplog):
        conversation_id = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, conversation_id)
        fake_openai.fail_next("/conversations/", 500, times=5)

        result = reset_thread(user_phone=PHONE, delete_remote=True)

        assert result.mapping_deleted and not result.remote_deleted
        assert result.remote_error
        assert repository.get_thread_id(PHONE) is None
        assert conversation_id in fake_openai.conversations
        assert "could not delete remote thread" in caplog.text

    def test_delete_remote_without_openai_configured_resets_locally_only(self, openai_off):
        repository.save_thread_id(PHONE, "conv_old")

        result = reset_thread(user_phone=PHONE, delete_remote=True)

        assert result.mapping_deleted and not result.remote_deleted
        assert result.remote_error == "OpenAI is not configured"


class TestSetBotPaused:
    def test_pausing_updates_known_contacts_and_creates_missing_ones(self):
        Contact.objects.create(user_phone=PHONE, profile_name="Ana")
        Contact.objects.create(user_phone=OTHER, bot_paused=True)

        changed = set_bot_paused(user_phones=[PHONE, OTHER, THIRD, PHONE], paused=True)

        assert changed == 2  # OTHER was paused already
        assert set(Contact.objects.filter(bot_paused=True).values_list("pk", flat=True)) == {PHONE, OTHER, THIRD}
        assert Contact.objects.get(pk=PHONE).profile_name == "Ana"

    def test_resuming_counts_only_paused_users_and_creates_no_contacts(self):
        Contact.objects.create(user_phone=PHONE, bot_paused=True)
        Contact.objects.create(user_phone=OTHER, bot_paused=False)

        changed = set_bot_paused(user_phones=[PHONE, OTHER, THIRD], paused=False)

        assert changed == 1
        assert not Contact.objects.filter(bot_paused=True).exists()
        assert not Contact.objects.filter(pk=THIRD).exists()

    def test_no_phones_changes_nothing(self):
        assert set_bot_paused(user_phones=[], paused=True) == 0

    def test_messages_of_a_paused_user_are_held_and_stay_held_after_resuming(self):
        set_bot_paused(user_phones=[PHONE], paused=True)
        held, _ = message_log.record_inbound(user_phone=PHONE, twilio_sid="SM" + "1" * 32, body="¿Hay alguien?")

        set_bot_paused(user_phones=[PHONE], paused=False)
        later, _ = message_log.record_inbound(user_phone=PHONE, twilio_sid="SM" + "2" * 32, body="Hola")

        held.refresh_from_db()
        assert held.status == Message.Status.HELD
        assert later.status == Message.Status.RECEIVED
        assert message_log.pending_inbound(PHONE) == [later]


class TestSendStaffMessage:
    @pytest.fixture(autouse=True)
    def window_open(self, user_wrote):
        user_wrote(PHONE)

    def test_the_message_is_sent_and_logged_as_staff_with_its_sender(self, outbox, staff_user):
        rows = send_staff_message(user_phone=PHONE, text="  Hola, soy Ana del equipo.  ", staff_user_id=staff_user.pk)

        assert [(m.to, m.body) for m in outbox] == [(PHONE, "Hola, soy Ana del equipo.")]
        assert len(rows) == 1
        row = Message.objects.get()
        assert row == rows[0]
        assert (row.direction, row.origin, row.staff_user, row.status) == ("out", "staff", staff_user, "queued")
        assert row.twilio_sid == "SMlocmem1"

    def test_a_long_message_goes_out_in_parts_in_order(self, outbox, staff_user):
        text = " ".join(f"palabra{i}" for i in range(400))  # about 3,500 characters

        rows = send_staff_message(user_phone=PHONE, text=text, staff_user_id=staff_user.pk)

        assert len(rows) == len(outbox) >= 3
        assert " ".join(m.body for m in outbox).split() == text.split()
        assert all(r.origin == Message.Origin.STAFF and r.staff_user_id == staff_user.pk for r in rows)

    def test_blank_text_is_refused_before_anything_is_logged(self, outbox, staff_user):
        with pytest.raises(ValueError):
            send_staff_message(user_phone=PHONE, text="   \n ", staff_user_id=staff_user.pk)

        assert outbox == []
        assert not Message.objects.exists()
