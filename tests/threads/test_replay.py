"""`manage.py replay`: past messages re-run through a model configuration, reported, and never sent."""

import json
import logging
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import responses as responses_lib
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.fakes.openai import failed
from threads import replay
from threads.models import Contact, Message, OaThreadMap, Turn
from threads.prompts import load_instructions

pytestmark = pytest.mark.django_db

PHONE = "whatsapp:+5215512345678"
OTHER = "whatsapp:+5213398765432"
SAMPLE = Path(django_settings.BASE_DIR) / "docs" / "replay_sample.jsonl"
# gpt-6-luna: $0.10 input, $0.01 cached input, $0.50 output per 1M tokens.
USAGE = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200}, "output_tokens": 100}
USAGE_COST = Decimal("0.000132")  # (800 * 0.10 + 200 * 0.01 + 100 * 0.50) / 1M


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("replay", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_json(*args) -> tuple[dict, str]:
    out, err = run(*args, "--json")
    return json.loads(out), err


def write_jsonl(tmp_path: Path, *conversations, name: str = "replay.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "\n".join(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in conversations) + "\n",
        encoding="utf-8",
    )
    return path


def inbound(phone: str, body: str, *, ago: timedelta = timedelta(0), origin: str = "user", direction: str = "in"):
    return Message.objects.create(
        user_phone=phone,
        direction=direction,
        origin=origin,
        body=body,
        status="received" if direction == "in" else "sent",
        created_at=timezone.now() - ago,
    )


def user_texts(body: dict) -> list[str]:
    """The user messages one responses.create sent (function_call_output items are skipped)."""
    texts = []
    for item in body["input"]:
        if item.get("type") == "message" and item.get("role") == "user":
            content = item["content"]
            texts.append(content if isinstance(content, str) else "".join(part.get("text", "") for part in content))
    return texts


def response_bodies(fake) -> list[dict]:
    return [call.body for call in fake.calls("/responses", method="POST")]


@pytest.fixture
def twilio(settings):
    """Twilio configured as the messaging backend, with every HTTP call through `requests` intercepted."""
    settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "token-replay-test"
    settings.TWILIO_PHONE_NUMBER = "whatsapp:+14155238886"
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


class TestFromTheMessageLog:
    def test_replays_the_users_inbound_messages_one_per_turn_in_order(self, fake_openai, demo_catalogue):
        inbound(PHONE, "Hola, me llamo Ana", ago=timedelta(minutes=10))
        inbound(PHONE, "Gracias, te escribo luego", ago=timedelta(minutes=5), origin="assistant", direction="out")
        inbound(PHONE, "¿Me recuerdas?", ago=timedelta(minutes=3))
        inbound(PHONE, "¿Qué cursos tienen para principiantes?", ago=timedelta(minutes=2))
        inbound(OTHER, "Soy otra persona")

        report, err = run_json("--phone", "+5215512345678")

        [conversation] = report["conversations"]
        assert conversation["id"] == PHONE
        expected = ["Hola, me llamo Ana", "¿Me recuerdas?", "¿Qué cursos tienen para principiantes?"]
        assert [turn["message"] for turn in conversation["turns"]] == expected
        assert [turn["turn"] for turn in conversation["turns"]] == [1, 2, 3]
        assert [text for body in response_bodies(fake_openai) for text in user_texts(body)] == expected
        # One conversation: a later turn sees the earlier ones (the fake repeats the name it was told).
        assert "Te llamas Ana" in conversation["turns"][1]["base"]["reply"]
        assert conversation["turns"][2]["base"]["tool_calls"][0]["name"] == "buscar_curso"
        assert report["summary"]["turns"] == 3
        assert report["summary"]["tool_calls"] == 1
        assert err.count("\n") == 1 and PHONE in err

    def test_since_keeps_messages_from_that_local_date_on(self, fake_openai, settings, demo_catalogue):
        settings.TIME_ZONE = "America/Mexico_City"
        inbound(PHONE, "mensaje viejo", ago=timedelta(days=3))
        inbound(PHONE, "mensaje de hoy")

        report, _ = run_json("--phone", "whatsapp:+5215512345678", "--since", timezone.localdate().isoformat())

        assert [turn["message"] for turn in report["conversations"][0]["turns"]] == ["mensaje de hoy"]

    def test_a_user_with_no_messages_is_a_clear_error(self, fake_openai):
        inbound(OTHER, "Hola")

        with pytest.raises(CommandError, match=r"No text messages from whatsapp:\+5215512345678 since 2026-01-01"):
            run("--phone", "+5215512345678", "--since", "2026-01-01")

        assert fake_openai.requests == []

    def test_since_needs_phone_and_a_real_date(self, fake_openai, tmp_path):
        path = write_jsonl(tmp_path, {"id": "a", "messages": ["Hola"]})
        with pytest.raises(CommandError, match="--since only applies to --phone"):
            run("--file", str(path), "--since", "2026-01-01")
        with pytest.raises(CommandError, match="YYYY-MM-DD"):
            run("--phone", PHONE, "--since", "ayer")


class TestFromAFile:
    def test_reports_replies_tools_tokens_and_exact_cost(self, fake_openai, tmp_path, demo_catalogue):
        fake_openai.script(["¡Hola! ¿En qué te ayudo?", "Con gusto te cuento."])
        fake_openai.script_usage([USAGE, USAGE])
        path = write_jsonl(tmp_path, "", {"id": "saludo", "messages": ["Hola", "Cuéntame más"]}, "   ")

        report, err = run_json("--file", str(path))

        [conversation] = report["conversations"]
        assert conversation["id"] == "saludo"
        first = conversation["turns"][0]["base"]
        assert first["reply"] == "¡Hola! ¿En qué te ayudo?"
        assert first["model"] == "gpt-6-luna"
        assert (first["input_tokens"], first["cached_input_tokens"], first["output_tokens"]) == (1000, 200, 100)
        assert first["cost_usd"] == pytest.approx(float(USAGE_COST))
        assert first["error"] is None
        summary = report["summary"]
        assert summary["turns"] == 2
        assert summary["cost_usd"] == pytest.approx(float(USAGE_COST * 2))
        assert summary["unpriced_turns"] == 0
        assert summary["price_violations"] == 0
        assert summary["fallbacks"] == 0
        assert summary["mean_reply_chars"] == pytest.approx((24 + 20) / 2)
        assert report["compare"] is None
        assert "[1/1] saludo (2 messages):" in err

    def test_text_output_has_a_table_per_conversation_and_a_summary(self, fake_openai, tmp_path, demo_catalogue):
        fake_openai.script(["Respuesta uno", "Respuesta dos", "Respuesta tres"])
        fake_openai.script_usage([USAGE] * 3)
        path = write_jsonl(tmp_path, {"id": "uno", "messages": ["Hola", "Adiós"]}, {"id": "dos", "messages": ["Hey"]})

        out, err = run("--file", str(path))

        assert "== uno (2 messages) ==" in out
        assert "== dos (1 message) ==" in out
        assert "Respuesta dos" in out
        assert "1000/200/100" in out
        assert "$0.00013" in out
        summary = out[out.index("Summary") :]
        assert "gpt-6-luna" in summary
        assert "$0.000396" in summary
        assert [line.split()[0] for line in err.splitlines()] == ["[1/2]", "[2/2]"]

    def test_the_root_log_level_is_restored_afterwards(self, fake_openai, tmp_path):
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.INFO)
        try:
            run("--file", str(write_jsonl(tmp_path, {"id": "a", "messages": ["Hola"]})))
            assert root.level == logging.INFO
        finally:
            root.setLevel(level)

    def test_a_model_without_a_price_shows_a_question_mark_and_counts_unpriced(self, fake_openai, tmp_path):
        fake_openai.script(["Hola"])
        path = write_jsonl(tmp_path, {"id": "a", "messages": ["Hola"]})

        report, _ = run_json("--file", str(path), "--model", "modelo-sin-precio")
        out, _ = run("--file", str(path), "--model", "modelo-sin-precio")

        assert report["conversations"][0]["turns"][0]["base"]["cost_usd"] is None
        assert report["summary"]["unpriced_turns"] == 1
        assert report["summary"]["cost_usd"] == 0.0
        row = next(line for line in out.splitlines() if line.lstrip().startswith("1 "))
        assert " ? " in row

    def test_a_wrong_price_in_the_reply_is_a_violation(self, fake_openai, tmp_path, demo_catalogue):
        fake_openai.script(["El curso cuesta $999 MXN, y el de Prompt engineering $1,490 MXN."])
        path = write_jsonl(tmp_path, {"id": "precio", "messages": ["¿Cuánto cuesta?"]})

        report, _ = run_json("--file", str(path))

        result = report["conversations"][0]["turns"][0]["base"]
        assert result["price_check"] == {"found": ["$999 MXN", "$1,490 MXN"], "wrong": ["$999 MXN"]}
        assert result["reply"].startswith("El curso cuesta $999 MXN")  # raw: replay does not correct it
        assert report["summary"]["price_violations"] == 1
        assert len(response_bodies(fake_openai)) == 1  # and does not ask the model again

    def test_a_failed_turn_counts_as_a_fallback_and_the_conversation_goes_on(self, fake_openai, tmp_path):
        fake_openai.script([failed(), "Sigo aquí"])
        path = write_jsonl(tmp_path, {"id": "falla", "messages": ["Hola", "¿Sigues ahí?"]})

        report, _ = run_json("--file", str(path))

        first, second = (turn["base"] for turn in report["conversations"][0]["turns"])
        assert first["error"].startswith("RunFailed")
        assert first["reply"] == ""
        assert second["reply"] == "Sigo aquí"
        assert report["summary"]["fallbacks"] == 1
        assert report["summary"]["turns"] == 2
        assert fake_openai.conversations == {}

    def test_when_every_turn_fails_the_report_is_printed_and_the_exit_status_is_1(self, fake_openai, tmp_path):
        fake_openai.script([failed(), failed()])
        path = write_jsonl(tmp_path, {"id": "caida", "messages": ["Hola", "¿Sigues ahí?"]})
        out = StringIO()

        with pytest.raises(CommandError, match="Every turn failed under") as error:
            call_command("replay", "--file", str(path), "--json", stdout=out, stderr=StringIO())

        assert error.value.returncode == 1
        assert json.loads(out.getvalue())["summary"]["fallbacks"] == 2  # the report still came out

    @pytest.mark.parametrize("flag", ["--model", "--compare"])
    def test_an_empty_model_name_is_refused(self, fake_openai, tmp_path, flag):
        path = write_jsonl(tmp_path, {"id": "m", "messages": ["Hola"]})

        with pytest.raises(CommandError, match=f"{flag} needs a model name"):
            run("--file", str(path), flag, " ")

        assert fake_openai.requests == []

    def test_the_shipped_sample_file_validates(self):
        conversations = replay.load_file_conversations(path=SAMPLE)

        assert 5 <= len(conversations) <= 8
        assert all(2 <= len(conversation.messages) <= 4 for conversation in conversations)


class TestBadFiles:
    @pytest.mark.parametrize(
        ("line", "problem"),
        [
            ("{not json", "not valid JSON"),
            ('["Hola"]', "expected an object"),
            ('{"id": "a"}', '"messages" is missing'),
            ('{"id": "a", "messages": []}', "non-empty list"),
            ('{"id": "a", "messages": "Hola"}', "non-empty list"),
            ('{"id": "a", "messages": ["Hola", 3]}', "message 2 is not a string"),
            ('{"id": "a", "messages": ["Hola", "  "]}', "message 2 is empty"),
            (json.dumps({"id": "a", "messages": ["x"] * 101}), "101 messages; a conversation holds at most 100"),
            (json.dumps({"id": "a", "messages": ["x" * 4097]}), "message 1 has 4,097 characters; the limit is 4,096"),
            ('{"id": ["a"], "messages": ["Hola"]}', '"id" must be a non-empty string'),
        ],
    )
    def test_a_bad_line_is_an_error_naming_its_number(self, fake_openai, tmp_path, line, problem):
        path = write_jsonl(tmp_path, {"id": "ok", "messages": ["Hola"]}, "", line)

        with pytest.raises(CommandError, match="line 3") as error:
            run("--file", str(path))

        assert problem in str(error.value)
        assert fake_openai.requests == []

    def test_the_limits_themselves_are_accepted(self, tmp_path):
        path = write_jsonl(tmp_path, {"id": "max", "messages": ["x" * 4096] + ["y"] * 99})

        [conversation] = replay.load_file_conversations(path=path)

        assert len(conversation.messages) == 100

    def test_duplicate_ids_missing_and_empty_files_are_errors(self, fake_openai, tmp_path):
        twice = write_jsonl(tmp_path, {"id": "a", "messages": ["x"]}, {"id": "a", "messages": ["y"]})
        with pytest.raises(CommandError, match="'a' is used by more than one conversation"):
            run("--file", str(twice))
        with pytest.raises(CommandError, match="no such file"):
            run("--file", str(tmp_path / "nope.jsonl"))
        with pytest.raises(CommandError, match="no conversations"):
            run("--file", str(write_jsonl(tmp_path, "", name="empty.jsonl")))

    def test_a_line_without_an_id_is_named_by_its_line(self, tmp_path):
        path = write_jsonl(tmp_path, "", {"messages": ["Hola"]})

        [conversation] = replay.load_file_conversations(path=path)

        assert conversation.id == "line-2"


class TestConfiguration:
    def test_compare_runs_every_conversation_with_both_models(self, fake_openai, tmp_path, demo_catalogue):
        fake_openai.script(["base uno", "base dos", "otro uno", "otro dos"])
        fake_openai.script_usage([USAGE] * 4)
        path = write_jsonl(tmp_path, {"id": "c", "messages": ["Hola", "¿Y luego?"]})

        report, _ = run_json("--file", str(path), "--compare", "gpt-6-sol")

        assert [body["model"] for body in response_bodies(fake_openai)] == [
            "gpt-6-luna",
            "gpt-6-luna",
            "gpt-6-sol",
            "gpt-6-sol",
        ]
        turns = report["conversations"][0]["turns"]
        assert [(t["base"]["reply"], t["compare"]["reply"]) for t in turns] == [
            ("base uno", "otro uno"),
            ("base dos", "otro dos"),
        ]
        assert turns[0]["compare"]["model"] == "gpt-6-sol"
        assert report["model"] == "gpt-6-luna"
        assert report["summary"]["model"] == "gpt-6-luna"
        assert report["compare"]["model"] == "gpt-6-sol"
        assert report["compare"]["summary"]["turns"] == 2
        # gpt-6-sol: $2.00 input, $0.20 cached, $10.00 output per 1M tokens.
        sol = (800 * Decimal("2.00") + 200 * Decimal("0.20") + 100 * Decimal("10.00")) / 1_000_000
        assert report["compare"]["summary"]["cost_usd"] == pytest.approx(float(sol * 2))
        # Each configuration got its own fresh conversation.
        assert len({body["conversation"] for body in response_bodies(fake_openai)}) == 2

    def test_compare_text_shows_both_models_side_by_side(self, fake_openai, tmp_path):
        fake_openai.script(["respuesta luna", "respuesta sol"])
        path = write_jsonl(tmp_path, {"id": "c", "messages": ["Hola"]})

        out, _ = run("--file", str(path), "--compare", "gpt-6-sol")

        row = next(line for line in out.splitlines() if line.lstrip().startswith("1 "))
        assert "respuesta luna" in row and "respuesta sol" in row
        summary_header = next(line for line in out.splitlines() if line.startswith("Summary"))
        assert "gpt-6-luna" in summary_header and "gpt-6-sol" in summary_header

    def test_model_option_replaces_the_configured_model(self, fake_openai, tmp_path):
        path = write_jsonl(tmp_path, {"id": "m", "messages": ["Hola"]})

        run_json("--file", str(path), "--model", "gpt-6.1-terra")

        assert [body["model"] for body in response_bodies(fake_openai)] == ["gpt-6.1-terra"]

    def test_instructions_file_is_sent_as_the_requests_instructions(self, fake_openai, tmp_path):
        instructions = tmp_path / "prompt.md"
        instructions.write_text("Eres Brenda. Responde siempre en una sola frase.\n", encoding="utf-8")
        path = write_jsonl(tmp_path, {"id": "i", "messages": ["Hola", "¿Qué tal?"]})

        report, _ = run_json("--file", str(path), "--instructions", str(instructions))

        bodies = response_bodies(fake_openai)
        assert {body["instructions"] for body in bodies} == {"Eres Brenda. Responde siempre en una sola frase."}
        assert report["instructions"] == str(instructions)

    def test_default_instructions_are_brendas(self, fake_openai, tmp_path):
        path = write_jsonl(tmp_path, {"id": "i", "messages": ["Hola"]})

        run_json("--file", str(path))

        assert response_bodies(fake_openai)[0]["instructions"] == load_instructions()

    def test_missing_or_empty_instructions_file_is_an_error(self, fake_openai, tmp_path):
        path = write_jsonl(tmp_path, {"id": "i", "messages": ["Hola"]})
        empty = tmp_path / "empty.md"
        empty.write_text(" \n", encoding="utf-8")

        with pytest.raises(CommandError, match="no such file"):
            run("--file", str(path), "--instructions", str(tmp_path / "nope.md"))
        with pytest.raises(CommandError, match="is empty"):
            run("--file", str(path), "--instructions", str(empty))
        assert fake_openai.requests == []

    def test_the_assistants_engine_is_refused_with_the_reason(self, fake_openai, tmp_path):
        path = write_jsonl(tmp_path, {"id": "e", "messages": ["Hola"]})

        with pytest.raises(CommandError, match="needs the responses engine") as error:
            run("--file", str(path), "--engine", "assistants")

        assert "ASSISTANT_ID" in str(error.value)
        assert fake_openai.requests == []

    def test_without_an_api_key_it_exits_with_status_1(self, openai_off, tmp_path):
        path = write_jsonl(tmp_path, {"id": "k", "messages": ["Hola"]})

        with pytest.raises(CommandError, match="OPENAI_API_KEY is not set") as error:
            run("--file", str(path))

        assert error.value.returncode == 1


class TestNothingIsSent:
    def test_no_twilio_call_no_rows_and_no_mapping(self, fake_openai, twilio, outbox, demo_catalogue, settings):
        settings.MESSAGING_BACKEND = "messaging.backends.TwilioBackend"
        inbound(PHONE, "Hola, busco un curso de Python")
        inbound(PHONE, "¿Cuánto cuesta?")
        messages_before = Message.objects.count()

        run("--phone", PHONE, "--compare", "gpt-6-sol")
        run_json("--file", str(SAMPLE))

        assert len(twilio.calls) == 0
        assert outbox == []
        assert Message.objects.count() == messages_before
        assert Turn.objects.count() == 0
        assert OaThreadMap.objects.count() == 0
        assert Contact.objects.count() == 0

    def test_every_remote_conversation_is_deleted(self, fake_openai, demo_catalogue):
        report, _ = run_json("--file", str(SAMPLE), "--compare", "gpt-6-sol")

        created = fake_openai.calls("/conversations", method="POST")
        deleted = fake_openai.calls("/conversations/", method="DELETE")
        assert len(created) == len(deleted) == 2 * len(report["conversations"])
        assert fake_openai.conversations == {}

    def test_a_failed_delete_is_reported_not_fatal(self, fake_openai, tmp_path):
        fake_openai.fail_next("/conversations/", 500, method="DELETE")
        path = write_jsonl(tmp_path, {"id": "a", "messages": ["Hola"]}, {"id": "b", "messages": ["Hola"]})

        report, err = run_json("--file", str(path))

        [left_behind] = fake_openai.conversations
        first, second = report["conversations"]
        assert len(first["cleanup_errors"]) == 1 and first["cleanup_errors"][0].startswith(left_behind)
        assert second["cleanup_errors"] == []
        assert "NOT DELETED" in err and left_behind in err
        assert report["summary"]["turns"] == 2


def test_replay_from_the_log_takes_only_the_newest_messages(db):
    from threads import message_log as log
    from threads.replay import MAX_MESSAGES, load_log_conversations

    phone = "whatsapp:+5215512349999"
    for number in range(MAX_MESSAGES + 5):
        log.record_inbound(user_phone=phone, twilio_sid=f"SMcap{number:028d}", body=f"mensaje {number}")

    (conversation,) = load_log_conversations(user_phone=phone)

    assert len(conversation.messages) == MAX_MESSAGES
    assert conversation.messages[-1] == f"mensaje {MAX_MESSAGES + 4}" and conversation.messages[0] == "mensaje 5"
