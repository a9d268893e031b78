"""Moving legacy `thread_…` mappings to conversations seeded with each user's transcript (`migrate_threads`)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from threads import repository
from threads.adapter import get_adapter
from threads.locks import acquire_user_lease, is_user_lease_held
from threads.message_log import record_inbound
from threads.migration import migrate_threads
from threads.models import Message, Turn

pytestmark = pytest.mark.django_db

ANA = "whatsapp:+5215511111111"
BETO = "whatsapp:+5215522222222"
CARLA = "whatsapp:+5215533333333"


def make_transcript(phone: str, exchanges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Store answered exchanges (user text, assistant text) in the message log; return them as (role, text)."""
    transcript = []
    for question, answer in exchanges:
        turn = Turn.objects.create(user_phone=phone, status=Turn.Status.COMPLETED)
        for direction, origin, body in (
            (Message.Direction.INBOUND, Message.Origin.USER, question),
            (Message.Direction.OUTBOUND, Message.Origin.ASSISTANT, answer),
        ):
            Message.objects.create(
                user_phone=phone, direction=direction, origin=origin, body=body, status="sent", turn=turn
            )
        transcript += [("user", question), ("assistant", answer)]
    return transcript


def conversation_transcript(fake, conversation_id: str) -> list[tuple[str, str]]:
    return [(item["role"], item["content"][0]["text"]) for item in fake.conversation_items(conversation_id)]


@pytest.fixture
def legacy_users():
    """Three users on legacy threads with short transcripts, and one already on a conversation."""
    transcripts = {}
    for phone, name in ((ANA, "Ana"), (BETO, "Beto"), (CARLA, "Carla")):
        repository.save_thread_id(phone, f"thread_{name.lower()}")
        transcripts[phone] = make_transcript(phone, [(f"me llamo {name}", f"Hola {name}"), ("cursos", "Tenemos 8")])
    repository.save_thread_id("whatsapp:+5215599999999", "conv_existing")
    return transcripts


def migrate(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("migrate_threads", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class TestService:
    def test_each_legacy_user_gets_a_conversation_holding_their_transcript(self, fake_openai, legacy_users):
        report = migrate_threads(adapter=get_adapter(engine="responses"))

        assert [m.user_phone for m in report.migrated] == [ANA, BETO, CARLA]
        assert report.skipped == 1
        assert report.failed == []
        for phone, transcript in legacy_users.items():
            conversation_id = repository.get_thread_id(phone)
            assert conversation_id.startswith("conv_")
            assert conversation_transcript(fake_openai, conversation_id) == transcript
        assert repository.get_thread_id("whatsapp:+5215599999999") == "conv_existing"

    def test_only_the_last_20_messages_seed_the_conversation(self, fake_openai):
        repository.save_thread_id(ANA, "thread_long")
        transcript = make_transcript(ANA, [(f"pregunta {i}", f"respuesta {i}") for i in range(15)])

        migrate_threads(adapter=get_adapter(engine="responses"))

        conversation_id = repository.get_thread_id(ANA)
        assert conversation_transcript(fake_openai, conversation_id) == transcript[-20:]

    def test_a_user_without_history_gets_an_empty_conversation(self, fake_openai):
        repository.save_thread_id(ANA, "thread_quiet")

        report = migrate_threads(adapter=get_adapter(engine="responses"))

        assert report.migrated[0].seed_messages == 0
        assert fake_openai.conversation_items(repository.get_thread_id(ANA)) == []

    def test_a_user_in_the_middle_of_a_turn_fails_as_busy_and_keeps_the_lease_holder(self, fake_openai, legacy_users):
        token = acquire_user_lease(BETO, ttl_s=60)

        report = migrate_threads(adapter=get_adapter(engine="responses"))

        assert [m.user_phone for m in report.failed] == [BETO]
        assert "busy" in report.failed[0].error
        assert repository.get_thread_id(BETO) == "thread_beto"
        assert token and is_user_lease_held(BETO)
        assert not is_user_lease_held(ANA)

    def test_a_message_that_waited_for_the_migration_is_answered_in_the_new_conversation(
        self, fake_openai, legacy_users, outbox
    ):
        record_inbound(user_phone=ANA, twilio_sid="SMwaiting", body="hola otra vez")

        migrate_threads(adapter=get_adapter(engine="responses"))

        conversation_id = repository.get_thread_id(ANA)
        assert [m.to for m in outbox] == [ANA]
        assert conversation_transcript(fake_openai, conversation_id)[-2][1] == "hola otra vez"
        assert Message.objects.get(twilio_sid="SMwaiting").thread_id == conversation_id

    def test_limit_migrates_that_many_users_in_phone_order(self, fake_openai, legacy_users):
        report = migrate_threads(adapter=get_adapter(engine="responses"), limit=2)

        assert [m.user_phone for m in report.migrated] == [ANA, BETO]
        assert repository.get_thread_id(CARLA) == "thread_carla"


class TestCommand:
    def test_migrates_everyone_and_prints_progress_and_a_summary(self, fake_openai, legacy_users):
        out, err = migrate("--progress-every", "2")

        assert "[2/3] users processed" in out
        assert "[3/3] users processed" in out
        assert "Summary: migrated 3, skipped 1, failed 0." in out
        assert err == ""
        assert repository.count_mappings_by_engine() == {"responses": 4, "assistants": 0, "unknown": 0}

    def test_running_twice_migrates_nothing_the_second_time(self, fake_openai, legacy_users):
        migrate()
        mappings = {phone: repository.get_thread_id(phone) for phone in legacy_users}
        created = len(fake_openai.calls("/conversations", method="POST"))

        out, _ = migrate()

        assert "Summary: migrated 0, skipped 4, failed 0." in out
        assert {phone: repository.get_thread_id(phone) for phone in legacy_users} == mappings
        assert len(fake_openai.calls("/conversations", method="POST")) == created

    def test_dry_run_says_what_it_would_do_and_changes_nothing(self, fake_openai, legacy_users):
        out, _ = migrate("--dry-run")

        assert f"would migrate {ANA} (thread_ana) to a new conversation seeded with 4 message(s)" in out
        assert "Summary: would migrate 3, skipped 1, failed 0." in out
        assert repository.get_thread_id(ANA) == "thread_ana"
        assert fake_openai.requests == []

    def test_dry_run_works_without_openai(self, openai_off, legacy_users):
        out, _ = migrate("--dry-run")

        assert "would migrate 3" in out

    def test_one_failing_user_does_not_stop_the_others_and_exits_1(self, fake_openai, legacy_users):
        fake_openai.fail_next("/conversations", 500, method="POST")
        out, err = StringIO(), StringIO()

        with pytest.raises(CommandError, match="1 user"):
            call_command("migrate_threads", stdout=out, stderr=err)

        assert repository.get_thread_id(ANA) == "thread_ana"
        assert repository.get_thread_id(BETO).startswith("conv_")
        assert repository.get_thread_id(CARLA).startswith("conv_")
        assert "Summary: migrated 2, skipped 1, failed 1." in out.getvalue()
        assert f"{ANA} (thread_ana): EngineError" in err.getvalue()
        assert not is_user_lease_held(ANA)

    def test_the_failed_user_is_migrated_by_the_next_run(self, fake_openai, legacy_users):
        fake_openai.fail_next("/conversations", 500, method="POST")
        with pytest.raises(CommandError):
            migrate()

        out, _ = migrate()

        assert "Summary: migrated 1, skipped 3, failed 0." in out
        conversation_id = repository.get_thread_id(ANA)
        assert conversation_transcript(fake_openai, conversation_id) == legacy_users[ANA]

    def test_without_openai_it_refuses_and_changes_nothing(self, openai_off, legacy_users):
        with pytest.raises(CommandError, match="OPENAI_API_KEY"):
            migrate()

        assert repository.get_thread_id(ANA) == "thread_ana"

    def test_unreachable_openai_stops_before_touching_anyone(self, fake_openai, legacy_users):
        fake_openai.fail_next("/models", 401)

        with pytest.raises(CommandError, match="nothing was migrated"):
            migrate()

        assert fake_openai.calls("/conversations") == []
        assert repository.get_thread_id(ANA) == "thread_ana"

    @pytest.mark.parametrize("option", [("--limit", "0"), ("--progress-every", "0")])
    def test_non_positive_numbers_are_refused(self, openai_off, option):
        with pytest.raises(CommandError, match="must be"):
            migrate(*option)

    def test_limit_is_honoured(self, fake_openai, legacy_users):
        out, _ = migrate("--limit", "1")

        assert "Summary: migrated 1, skipped 1, failed 0." in out
        assert repository.count_mappings_by_engine()["assistants"] == 2
