"""Keep the bench from rotting: its cheap part (requests per turn) runs here with tiny sizes.

Only structure and counts are checked, never timings: speed lives in `python -m bench`.
"""

from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from bench import calls, loadgen, money

pytestmark = pytest.mark.django_db(transaction=True)


def test_calls_bench_measures_every_scenario_for_both_engines(demo_catalogue, capsys):
    samples = calls.measure_calls(repeats=1, polls_per_step=2)

    assert {(s.engine, s.scenario) for s in samples} == {
        (engine, scenario) for engine in calls.ENGINES for scenario, _ in calls.SCENARIOS
    }
    assert all(s.reply_origin == "assistant" for s in samples), [s.reply_origin for s in samples]
    assert all(s.http_requests > 0 and s.db_queries > 0 for s in samples)
    assert [s.tool_calls for s in samples if s.scenario == "tool round"] == [1, 1]
    assert all(sum(s.endpoints.values()) == s.http_requests for s in samples)
    # Every query of a turn is put in one phase, and ours all have a phase of their own.
    assert all(sum(s.phases.values()) == s.db_queries for s in samples)
    assert all(set(s.phases) <= set(calls.PHASES) - {"other"} for s in samples), [s.unattributed for s in samples]

    result = calls.report(calls.summarise(samples), polls_per_step=2, database="test")

    ratios = result["ratios_responses_to_assistants"]
    assert set(ratios) == {scenario for scenario, _ in calls.SCENARIOS}
    assert all(0 < r["http_requests"] < 1 for r in ratios.values())
    assert set(result["query_target"]["by_engine"]) == set(calls.ENGINES)
    out = capsys.readouterr().out
    assert "OpenAI HTTP requests and DB queries per turn" in out and "DB queries per phase of the turn" in out


def test_money_bench_measures_caching_cost_and_the_price_check(demo_catalogue, capsys):
    from courses.selectors import get_catalogue_amounts, get_course_amounts

    messages = money.CONVERSATION[:3]  # greeting, a catalogue question (tool round), a follow-up
    cached = money.measure_conversation(messages)
    defeated = money.measure_conversation(messages, defeat_cache=True)

    assert [s.turn for s in cached] == [s.turn for s in defeated] == [1, 2, 3]
    assert all(s.reply_origin == "assistant" for s in (*cached, *defeated))
    assert [s.tool_calls for s in cached] == [0, 1, 0]
    assert all(s.input_tokens > 0 and s.cost_usd is not None for s in (*cached, *defeated))
    # The stable prefix is cached from the second turn on; stamped instructions lose it.
    assert sum(s.cached_input_tokens for s in cached[1:]) > sum(s.cached_input_tokens for s in defeated[1:])
    conversation = money.report_conversation(cached, defeated)
    assert conversation["cached_share_later_turns"] > conversation["baseline_cached_share_later_turns"]

    returning = money.measure_returning_turns(3, per_user=2)
    assert len(returning) == 3 and all(s.reply_origin == "assistant" for s in returning)
    cost = money.report_cost(returning)
    assert cost["turns"] == 3
    assert 0 < cost["ratio_to_baseline"] < 1  # the default model is cheaper than gpt-5-mini

    measured = money.measure_pricecheck(get_catalogue_amounts(), get_course_amounts(), repeats=1, min_time_s=0.0)
    assert len(measured["found"]) == money.REPLY_AMOUNTS and measured["wrong"] == []
    assert len(measured["wrong_reply_wrong"]) == money.REPLY_WRONG
    assert measured["reply_chars"] <= 1600
    pricecheck = money.report_pricecheck(measured)
    assert set(pricecheck["seconds"]) == {
        "to_whatsapp",
        "check_prices",
        "check_prices_no_courses",
        "check_prices_wrong",
        "remove_wrong_amounts",
    }

    out = capsys.readouterr().out
    assert "Cached input per turn" in out and "Cost per 100 returning-user turns" in out
    assert "Price fact-check time per reply" in out


def test_endpoint_names_hide_ids():
    assert calls.endpoint_name("GET", "/v1/threads/thread_abc/runs/run_1") == "runs.retrieve"
    assert calls.endpoint_name("POST", "/v1/responses") == "responses.create"
    assert calls.endpoint_name("DELETE", "/v1/conversations/conv_9") == "DELETE /conversations/*"


def test_prepared_twilio_requests_are_signed_and_unique():
    requests = loadgen.twilio_requests(
        public_base_url="http://127.0.0.1:9", auth_token="token", count=5, users=2, text="hola", first_user=7
    )

    validator = RequestValidator("token")
    sids = set()
    for request in requests:
        params = dict(parse_qsl(request.body.decode()))
        assert validator.validate("http://127.0.0.1:9/webhooks/twilio", params, request.headers["X-Twilio-Signature"])
        sids.add(params["MessageSid"])
    assert len(sids) == 5
    assert {dict(parse_qsl(r.body.decode()))["From"] for r in requests} == {loadgen.phone_for(7), loadgen.phone_for(8)}
