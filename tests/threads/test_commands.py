"""The operator's commands `reset_thread` and `threads_stats`: what they print, change and refuse."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from threads import repository
from threads.models import Message, OaThreadMap, Turn

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
OTHER = "whatsapp:+5213398765432"
NO_SPEND = {
    "cost_usd": 0.0,
    "input_tokens": 0,
    "cached_input_tokens": 0,
    "output_tokens": 0,
    "reasoning_tokens": 0,
    "limited_turns": 0,
    "unpriced_turns": 0,
}


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class TestResetThread:
    def test_reset_with_a_plus_number_deletes_only_that_mapping(self, openai_off):
        repository.save_thread_id(PHONE, "conv_old")
        repository.save_thread_id(OTHER, "conv_other")

        out, _ = run("reset_thread", "+5215512345678")

        assert repository.get_thread_id(PHONE) is None
        assert repository.get_thread_id(OTHER) == "conv_other"
        assert PHONE in out
        assert "conv_old" in out

    def test_reset_accepts_the_whatsapp_prefix_and_spaces(self, openai_off):
        repository.save_thread_id(PHONE, "thread_old")

        run("reset_thread", "whatsapp:+52 1 55 1234 5678")

        assert repository.get_thread_id(PHONE) is None

    def test_unknown_phone_is_an_error_naming_the_normalised_number(self, openai_off):
        repository.save_thread_id(OTHER, "conv_other")

        with pytest.raises(CommandError, match=r"^No thread mapping for whatsapp:\+5215512345678\.$"):
            run("reset_thread", "+5215512345678")

        assert repository.get_thread_id(OTHER) == "conv_other"

    @pytest.mark.parametrize("phone", ["5512345678", "+52", "hola", "whatsapp:", "+0123456789"])
    def test_malformed_phone_is_a_clear_error(self, openai_off, phone):
        with pytest.raises(CommandError, match="Not a WhatsApp phone number"):
            run("reset_thread", phone)

    def test_delete_remote_without_openai_refuses_and_changes_nothing(self, openai_off):
        repository.save_thread_id(PHONE, "conv_old")

        with pytest.raises(CommandError, match="OPENAI_API_KEY is not set"):
            run("reset_thread", PHONE, "--delete-remote")

        assert repository.get_thread_id(PHONE) == "conv_old"

    def test_delete_remote_deletes_the_conversation_at_openai(self, fake_openai):
        conversation_id = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, conversation_id)

        out, _ = run("reset_thread", PHONE, "--delete-remote")

        assert repository.get_thread_id(PHONE) is None
        assert conversation_id not in fake_openai.conversations
        assert f"Deleted {conversation_id} at OpenAI" in out

    def test_delete_remote_of_a_conversation_already_gone_succeeds(self, fake_openai):
        conversation_id = fake_openai.client().conversations.create().id
        fake_openai.forget(conversation_id)
        repository.save_thread_id(PHONE, conversation_id)

        out, _ = run("reset_thread", PHONE, "--delete-remote")

        assert repository.get_thread_id(PHONE) is None
        assert f"Deleted {conversation_id} at OpenAI" in out

    def test_remote_failure_is_an_error_after_the_mapping_is_gone(self, fake_openai):
        conversation_id = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, conversation_id)
        fake_openai.fail_next(f"/conversations/{conversation_id}", 500, method="DELETE")

        with pytest.raises(CommandError, match=f"remote thread {conversation_id} was not deleted"):
            run("reset_thread", PHONE, "--delete-remote")

        assert repository.get_thread_id(PHONE) is None
        assert conversation_id in fake_openai.conversations

        # The error says how to finish the job, and that works once OpenAI answers again.
        out, _ = run("reset_thread", PHONE, "--delete-remote", "--thread-id", conversation_id)

        assert conversation_id not in fake_openai.conversations
        assert f"Deleted {conversation_id} at OpenAI (the user's mapping is untouched)" in out

    def test_thread_id_without_delete_remote_is_refused(self, openai_off):
        with pytest.raises(CommandError, match="only makes sense with --delete-remote"):
            run("reset_thread", PHONE, "--thread-id", "conv_x")

    def test_unknown_phone_exits_1_without_a_traceback(self, tmp_path):
        base_dir = Path(django_settings.BASE_DIR)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "SECRET_KEY": os.environ["SECRET_KEY"],  # the tests' key (pyproject.toml): DEBUG off needs one
            "OPENAI_API_KEY": "",
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, "manage.py"]
        migrate = subprocess.run(
            [*manage, "migrate", "--noinput", "-v0"], cwd=base_dir, env=env, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stderr

        completed = subprocess.run(
            [*manage, "reset_thread", "+5215512345678"], cwd=base_dir, env=env, capture_output=True, text=True
        )

        assert completed.returncode == 1
        assert "No thread mapping for whatsapp:+5215512345678" in completed.stderr
        assert "Traceback" not in completed.stderr + completed.stdout


def make_message(phone: str, direction: str, *, hours_ago: float = 0) -> Message:
    return Message.objects.create(
        user_phone=phone,
        direction=direction,
        origin=Message.Origin.USER if direction == Message.Direction.INBOUND else Message.Origin.ASSISTANT,
        body="hola",
        status=Message.Status.RECEIVED if direction == Message.Direction.INBOUND else Message.Status.SENT,
        created_at=timezone.now() - timedelta(hours=hours_ago),
    )


@pytest.fixture
def traffic():
    """Three conversations, one legacy thread and one odd id; traffic today and two days ago."""
    for index, thread_id in enumerate(["conv_a", "conv_b", "conv_c", "thread_d", "weird_e"]):
        repository.save_thread_id(f"whatsapp:+52155000000{index}", thread_id)
    two_days_ago = timezone.now() - timedelta(days=2)
    OaThreadMap.objects.filter(thread_id__in=["conv_a", "conv_b"]).update(
        created_at=two_days_ago, updated_at=two_days_ago
    )
    for _ in range(3):
        make_message(PHONE, Message.Direction.INBOUND)
    make_message(PHONE, Message.Direction.OUTBOUND)
    make_message(PHONE, Message.Direction.INBOUND, hours_ago=30)
    Turn.objects.create(user_phone=PHONE, status=Turn.Status.COMPLETED)
    Turn.objects.create(user_phone=PHONE, status=Turn.Status.FALLBACK, fallback_used=True)
    Turn.objects.create(user_phone=PHONE, status=Turn.Status.COMPLETED, started_at=two_days_ago)


class TestThreadsStats:
    def test_json_has_stable_keys_and_counts_by_engine_and_last_24_hours(self, traffic):
        out, _ = run("threads_stats", "--json")

        assert json.loads(out) == {
            "mappings": {
                "total_mappings": 5,
                "created_last_24h": 3,
                "updated_last_24h": 3,
                "by_engine": {"responses": 3, "assistants": 1, "unknown": 1},
            },
            "last_24h": {"messages_in": 3, "messages_out": 1, "turns": 2, "fallback_turns": 1, **NO_SPEND},
        }

    def test_table_lists_each_number_and_points_at_migrate_threads(self, traffic):
        out, _ = run("threads_stats")

        lines = {
            line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in out.splitlines() if line[-1:].isdigit()
        }
        assert lines["Thread mappings"] == "5"
        assert lines["legacy threads (assistants, thread_…)"] == "1"
        assert lines["Messages in, last 24 h"] == "3"
        assert lines["Turns, last 24 h"] == "2"
        assert "migrate_threads" in out

    def test_empty_database_prints_zeros(self):
        out, _ = run("threads_stats", "--json")

        stats = json.loads(out)
        assert stats["mappings"]["total_mappings"] == 0
        assert stats["last_24h"] == {"messages_in": 0, "messages_out": 0, "turns": 0, "fallback_turns": 0, **NO_SPEND}


@pytest.fixture
def spend():
    """Last 24 h: two priced turns, one of a model with no price, one limited; an older priced turn."""
    usage = {"model": "gpt-6-luna", "status": Turn.Status.COMPLETED}
    Turn.objects.create(
        user_phone=PHONE,
        input_tokens=1000,
        cached_input_tokens=250,
        output_tokens=200,
        reasoning_tokens=50,
        cost_usd=Decimal("0.00012345"),
        **usage,
    )
    Turn.objects.create(
        user_phone=OTHER,
        input_tokens=3000,
        cached_input_tokens=750,
        output_tokens=100,
        reasoning_tokens=0,
        cost_usd=Decimal("0.0121"),
        **usage,
    )
    Turn.objects.create(
        user_phone=OTHER,
        input_tokens=10,
        cached_input_tokens=0,
        output_tokens=5,
        model="gpt-unpriced",
        status="completed",
    )
    Turn.objects.create(
        user_phone=PHONE, status=Turn.Status.FALLBACK, fallback_used=True, fallback_reason="limit_user_turns"
    )
    Turn.objects.create(
        user_phone=PHONE,
        input_tokens=99_999,
        cost_usd=Decimal(5),
        started_at=timezone.now() - timedelta(hours=25),
        **usage,
    )


class TestThreadsStatsSpend:
    def test_json_adds_cost_tokens_limited_and_unpriced_turns_of_the_last_24_hours(self, spend):
        out, _ = run("threads_stats", "--json")

        last_24h = json.loads(out)["last_24h"]
        assert last_24h == {
            "messages_in": 0,
            "messages_out": 0,
            "turns": 4,
            "fallback_turns": 1,
            "cost_usd": 0.012223,  # 0.00012345 + 0.0121, rounded to 6 places
            "input_tokens": 4010,
            "cached_input_tokens": 1000,
            "output_tokens": 305,
            "reasoning_tokens": 50,
            "limited_turns": 1,
            "unpriced_turns": 1,
        }
        assert isinstance(last_24h["cost_usd"], float)

    def test_table_shows_the_cost_and_the_tokens_with_the_cached_share(self, spend):
        out, _ = run("threads_stats")

        assert "Cost (24 h): $0.0122 over 4 turns; tokens: 4,010 in (25% cached) / 305 out, 50 of them reasoning" in out
        lines = {
            line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in out.splitlines() if line[-1:].isdigit()
        }
        assert lines["kept from the model by a budget limit"] == "1"
        assert lines["asked the model, cost unknown"] == "1"

    def test_no_tokens_print_no_cached_share(self):
        out, _ = run("threads_stats")

        assert "Cost (24 h): $0.0000 over 0 turns; tokens: 0 in / 0 out" in out


@pytest.mark.parametrize("command", ["reset_thread", "threads_stats", "migrate_threads", "threads_doctor"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")

    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "usage:" in help_text
    assert len(help_text) > 300


class TestResetThreadRetry:
    def test_thread_id_deletes_only_that_old_conversation(self, fake_openai):
        old = fake_openai.client().conversations.create().id
        new = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, new)  # the user wrote again after a failed reset

        run("reset_thread", PHONE, "--delete-remote", "--thread-id", old)

        assert old not in fake_openai.conversations and new in fake_openai.conversations
        assert repository.get_thread_id(PHONE) == new

    def test_thread_id_of_the_current_conversation_is_refused(self, fake_openai):
        current = fake_openai.client().conversations.create().id
        repository.save_thread_id(PHONE, current)

        with pytest.raises(CommandError, match="uses now"):
            run("reset_thread", PHONE, "--delete-remote", "--thread-id", current)

        assert current in fake_openai.conversations
