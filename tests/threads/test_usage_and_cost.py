"""Every turn's tokens and dollars: summed over tool rounds and background steps, priced from the table."""

import json
from decimal import Decimal

import pytest

from tests.fakes.openai import function_call, message
from threads import message_log
from threads.background import handle_response_event
from threads.models import Message, Turn
from threads.pricing import Usage, cost_usd, get_model_price, transcription_cost_usd
from threads.services import process_user_messages

PHONE = "whatsapp:+5215533334444"
pytestmark = pytest.mark.django_db
_sid = iter(range(10**6))


def usage(input_tokens: int, cached: int, output_tokens: int, reasoning: int) -> dict:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }


def say(text: str) -> Turn:
    message_log.record_inbound(user_phone=PHONE, twilio_sid=f"SMu{next(_sid):031x}", body=text)
    process_user_messages(user_phone=PHONE)
    return Turn.objects.filter(user_phone=PHONE).latest("pk")


def test_a_turn_sums_usage_over_tool_rounds_and_prices_it(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_MODEL = "gpt-6-luna"
    fake_openai.script([function_call("buscar_curso", {"name": "marketing"}), message("Te recomiendo ese curso.")])
    fake_openai.script_usage([usage(2000, 1024, 100, 40), usage(3000, 2048, 300, 60)])

    turn = say("Busco un curso de marketing")

    assert (turn.input_tokens, turn.cached_input_tokens, turn.output_tokens, turn.reasoning_tokens) == (
        5000,
        3072,
        400,
        100,
    )
    # (5000 - 3072) x $0.10 + 3072 x $0.01 + 400 x $0.50, per million tokens
    assert turn.cost_usd == Decimal("0.00042352")
    assert turn.model == "gpt-6-luna" and turn.status == Turn.Status.COMPLETED


def test_a_model_without_a_price_has_an_unknown_cost_not_zero(settings, fake_openai, outbox):
    settings.OPENAI_MODEL = "gpt-unpriced-test"

    turn = say("hola")

    assert turn.input_tokens > 0 and turn.cost_usd is None and turn.model == "gpt-unpriced-test"


def test_openai_prices_override_and_add_models(settings, fake_openai, outbox):
    settings.OPENAI_MODEL = "gpt-house-model"
    settings.OPENAI_MAX_OUTPUT_TOKENS = 0
    settings.OPENAI_PRICES = {
        "gpt-house-model": {"input": 1, "cached_input": 0.5, "output": 2},
        "gpt-6-luna": {"input": "0.20", "output": "1.00"},
    }
    fake_openai.script_usage([usage(1_000_000, 0, 1_000_000, 0)])

    turn = say("hola")

    assert turn.cost_usd == Decimal("3")
    luna = get_model_price("gpt-6-luna")
    assert (luna.input, luna.cached_input, luna.output) == (Decimal("0.20"), None, Decimal("1.00"))
    # No cached rate: cached tokens cost the input rate.
    assert cost_usd("gpt-6-luna", Usage(input_tokens=10**6, cached_input_tokens=10**6)) == Decimal("0.20")


def test_dated_snapshots_are_priced_like_their_model_and_transcription_by_the_minute():
    assert get_model_price("gpt-6-luna-2026-09-22") == get_model_price("gpt-6-luna")
    assert get_model_price("gpt-6-lunar") is None
    assert transcription_cost_usd("gpt-transcribe", 90) == Decimal("0.00675")
    assert transcription_cost_usd("gpt-6-luna", 90) is None


def test_background_steps_add_up_on_the_turn(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_BACKGROUND = True
    settings.OPENAI_MODEL = "gpt-6-luna"
    fake_openai.script([function_call("buscar_curso", {"name": "marketing"}), message("Listo.")])
    fake_openai.script_usage([usage(1000, 0, 50, 10), usage(1500, 1024, 70, 20)])
    message_log.record_inbound(user_phone=PHONE, twilio_sid="SMbgcost1", body="marketing")
    process_user_messages(user_phone=PHONE)
    turn = Turn.objects.get(user_phone=PHONE)

    for _ in range(2):
        turn.refresh_from_db()
        event = fake_openai.complete_background(turn.response_id)
        handle_response_event(event_type=event["type"], response_id=turn.response_id)

    turn.refresh_from_db()
    assert turn.status == Turn.Status.COMPLETED
    assert (turn.input_tokens, turn.cached_input_tokens, turn.output_tokens, turn.reasoning_tokens) == (
        2500,
        1024,
        120,
        30,
    )
    assert turn.cost_usd == cost_usd("gpt-6-luna", Usage(2500, 1024, 120, 30))


def test_requests_keep_a_cacheable_prefix_and_send_the_model_settings(settings, fake_openai, outbox):
    settings.OPENAI_REASONING_EFFORT = "low"
    settings.OPENAI_MAX_OUTPUT_TOKENS = 900
    say("hola")
    say("¿sigues ahí?")

    first, second = (call.body for call in fake_openai.calls("/responses", "POST"))
    assert (first["instructions"], first["tools"]) == (second["instructions"], second["tools"])
    assert first["reasoning"] == {"effort": "low"} and first["max_output_tokens"] == 900
    assert first["prompt_cache_key"] == second["prompt_cache_key"]
    assert PHONE not in first["prompt_cache_key"] and PHONE[-10:] not in first["prompt_cache_key"]


def test_empty_effort_and_no_output_cap_send_nothing(settings, fake_openai, outbox):
    settings.OPENAI_REASONING_EFFORT = ""
    settings.OPENAI_MAX_OUTPUT_TOKENS = 0

    say("hola")

    body = fake_openai.calls("/responses", "POST")[-1].body
    assert "reasoning" not in body and "max_output_tokens" not in body


def test_each_user_has_their_own_cache_key(fake_openai, outbox):
    say("hola")
    message_log.record_inbound(user_phone="whatsapp:+5215599990000", twilio_sid="SMother1", body="hola")
    process_user_messages(user_phone="whatsapp:+5215599990000")

    keys = {call.body["prompt_cache_key"] for call in fake_openai.calls("/responses", "POST")}
    assert len(keys) == 2


def test_a_returning_user_gets_cached_input(settings, fake_openai, outbox):
    fake_openai.reset_prompt_cache()
    # No course words (no tool round: one request), long enough to pass the 1,024-token caching minimum.
    first = say("Hola, me llamo Ana. " + "Te cuento que me gusta leer y escribir. " * 20)
    second = say("¿Sigues ahí?")

    assert first.cached_input_tokens == 0
    assert second.cached_input_tokens >= 1024
    assert second.cost_usd < cost_usd(second.model, Usage(second.input_tokens, 0, second.output_tokens))


def test_tool_outputs_are_utf8_json_and_safe_from_lone_surrogates(fake_openai, outbox, demo_catalogue):
    fake_openai.script([function_call("detalle_curso", '{"id_course": "curso-\\ud800"}'), message("Listo.")])

    say("¿me das el detalle?")

    outputs = [
        item["output"]
        for call in fake_openai.calls("/responses", "POST")
        for item in call.body["input"]
        if item.get("type") == "function_call_output"
    ]
    assert len(outputs) == 1
    assert "válido" in outputs[0] and "\\u00" not in outputs[0]
    assert json.loads(outputs[0])["id_course"] == "curso-\ufffd"
    assert Message.objects.filter(direction="out").count() == 1


def test_a_failed_turn_still_records_what_it_used(settings, fake_openai, outbox, demo_catalogue):
    settings.OPENAI_MAX_TOOL_ROUNDS = 1
    fake_openai.script([function_call("buscar_curso", {"name": "marketing"})] * 2)
    fake_openai.script_usage([usage(2000, 0, 100, 0), usage(3000, 0, 100, 0)])

    turn = say("marketing")

    assert turn.fallback_used and turn.fallback_reason == "openai_error"
    assert (turn.input_tokens, turn.output_tokens) == (5000, 200)
    assert turn.cost_usd == cost_usd("gpt-6-luna", Usage(5000, 0, 200, 0))


def test_usage_reads_the_assistants_and_chat_field_names():
    class Details:
        cached_tokens = 80
        reasoning_tokens = 5

    class RunUsage:
        prompt_tokens = 100
        completion_tokens = 20
        prompt_tokens_details = Details()
        completion_tokens_details = Details()

    assert Usage.from_api(RunUsage()) == Usage(100, 80, 20, 5)
    assert Usage.from_api(None) == Usage()
