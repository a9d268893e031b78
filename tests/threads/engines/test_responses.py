"""The responses engine through the real adapter, with the fake OpenAI at the HTTP edge."""

import json
import time

import pytest

from tests.fakes.openai import CONVERSATION_LOCKED, failed, function_call, incomplete
from threads.adapter import RunHandle, SeedMessage, get_adapter, get_openai_client, is_openai_enabled
from threads.exceptions import (
    EngineError,
    OpenAINotConfigured,
    RunFailed,
    RunTimeout,
    ThreadBusy,
    ThreadNotFound,
    ThreadsError,
    ToolRoundsExceeded,
)
from threads.prompts import load_instructions
from threads.tools import tool_schemas_for_responses

pytestmark = pytest.mark.django_db

COURSE_QUESTION = "Hola, busco un curso para principiantes"


@pytest.fixture
def adapter(fake, openai_settings):
    return get_adapter(engine="responses", client=fake.client())


def response_posts(fake):
    return [body for method, path, body in fake.requests if (method, path) == ("POST", "/v1/responses")]


def test_turn_with_a_tool_round_answers_with_a_course_from_the_catalogue(adapter, fake, cheapest_beginner_course):
    conversation_id = adapter.create_thread()

    result = adapter.run_turn(conversation_id, [COURSE_QUESTION])

    assert cheapest_beginner_course.name in result.text
    assert [(call["name"], call["ok"]) for call in result.tool_calls] == [("buscar_curso", True)]
    first, second = response_posts(fake)
    assert first["input"] == [{"type": "message", "role": "user", "content": COURSE_QUESTION}]
    (output_item,) = second["input"]
    assert output_item["type"] == "function_call_output"
    assert json.loads(output_item["output"])["results"][0]["name"] == cheapest_beginner_course.name
    assert second["conversation"] == conversation_id
    assert result.openai_calls == 2
    assert result.response_id == list(fake.responses)[-1]
    assert result.usage.input_tokens == sum(r["usage"]["input_tokens"] for r in fake.responses.values())
    assert result.usage.output_tokens == sum(r["usage"]["output_tokens"] for r in fake.responses.values())


def test_each_request_carries_model_instructions_tools_and_store(adapter, fake, openai_settings):
    conversation_id = adapter.create_thread()

    adapter.run_turn(conversation_id, ["Hola"])

    (body,) = response_posts(fake)
    assert body["model"] == "gpt-test"
    assert body["instructions"] == load_instructions()
    assert "Brenda" in body["instructions"]
    assert body["tools"] == tool_schemas_for_responses()
    assert body["store"] is True
    assert "background" not in body


def test_new_thread_is_seeded_with_the_transcript_in_chunks_of_twenty(adapter, fake):
    seed = [SeedMessage(role="user", text="Me llamo Ana")] + [
        SeedMessage(role="assistant" if i % 2 else "user", text=f"mensaje {i}") for i in range(1, 25)
    ]

    conversation_id = adapter.create_thread(seed=seed)

    create, *more = fake.requests
    assert create[:2] == ("POST", "/v1/conversations")
    assert len(create[2]["items"]) == 20
    assert [(method, path, len(body["items"])) for method, path, body in more] == [
        ("POST", f"/v1/conversations/{conversation_id}/items", 5)
    ]
    stored = fake.conversation_items(conversation_id)
    assert [(item["role"], item["content"][0]["text"]) for item in stored] == [(m.role, m.text) for m in seed]

    result = adapter.run_turn(conversation_id, ["¿Cómo me llamo?"])

    assert "Te llamas Ana" in result.text


def test_returning_user_turn_without_tools_costs_exactly_one_request(adapter, fake):
    conversation_id = adapter.create_thread()
    adapter.run_turn(conversation_id, ["Hola"])
    fake.reset_requests()

    result = adapter.run_turn(conversation_id, ["¿Qué tal?"])

    assert [(method, path) for method, path, _ in fake.requests] == [("POST", "/v1/responses")]
    assert result.openai_calls == 1
    assert result.tool_calls == []
    assert "¿Qué tal?" in result.text


def test_adding_a_user_message_makes_no_request(adapter, fake):
    conversation_id = adapter.create_thread()
    fake.reset_requests()

    adapter.add_user_message(conversation_id, "Hola")

    assert fake.requests == []


def test_several_texts_go_in_order_in_one_request(adapter, fake):
    conversation_id = adapter.create_thread()

    result = adapter.run_turn(conversation_id, ["Hola", "¿sigues ahí?"])

    (body,) = response_posts(fake)
    assert [item["content"] for item in body["input"]] == ["Hola", "¿sigues ahí?"]
    assert "Hola / ¿sigues ahí?" in result.text


def test_the_conversation_remembers_earlier_turns(adapter, fake):
    conversation_id = adapter.create_thread()
    adapter.run_turn(conversation_id, ["Hola, me llamo Lucía"])

    result = adapter.run_turn(conversation_id, ["¿Recuerdas mi nombre?"])

    assert "Te llamas Lucía" in result.text
    last = response_posts(fake)[-1]
    assert last["input"] == [{"type": "message", "role": "user", "content": "¿Recuerdas mi nombre?"}]


def test_a_forgotten_conversation_raises_thread_not_found(adapter, fake):
    conversation_id = adapter.create_thread()
    fake.forget(conversation_id)

    with pytest.raises(ThreadNotFound) as excinfo:
        adapter.run_turn(conversation_id, ["Hola"])

    assert "404" in str(excinfo.value)
    assert excinfo.value.__cause__ is not None


def test_an_assistants_thread_id_counts_as_lost_without_a_request(adapter, fake):
    with pytest.raises(ThreadNotFound):
        adapter.run_turn("thread_abc123", ["Hola"])

    assert fake.requests == []


def test_delete_thread_deletes_and_ignores_a_missing_conversation(adapter, fake):
    conversation_id = adapter.create_thread()

    adapter.delete_thread(conversation_id)
    adapter.delete_thread(conversation_id)

    assert conversation_id not in fake.conversations
    assert [method for method, _, _ in fake.requests].count("DELETE") == 2


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limits_and_server_errors_after_sdk_retries_raise_engine_error(fake, openai_settings, status):
    adapter = get_adapter(engine="responses", client=fake.client(max_retries=2))
    conversation_id = adapter.create_thread()
    fake.fail_next("/responses", status, times=3)

    with pytest.raises(EngineError) as excinfo:
        adapter.run_turn(conversation_id, ["Hola"])

    assert type(excinfo.value) is EngineError
    assert str(status) in str(excinfo.value)
    assert len(response_posts(fake)) == 3  # first try + 2 SDK retries


def test_an_error_recovered_by_sdk_retries_completes_the_turn(fake, openai_settings):
    adapter = get_adapter(engine="responses", client=fake.client(max_retries=2))
    conversation_id = adapter.create_thread()
    fake.fail_next("/responses", 500, times=1)

    result = adapter.run_turn(conversation_id, ["Hola"])

    assert result.text.startswith("Hola, soy Brenda")


def test_engine_errors_never_contain_the_api_key(fake, openai_settings):
    openai_settings.OPENAI_API_KEY = "sk-live-very-secret"
    fake_client = fake.client()
    fake_client.api_key = "sk-live-very-secret"
    adapter = get_adapter(engine="responses", client=fake_client)
    fake.fail_next("/conversations", 401)

    with pytest.raises(EngineError) as excinfo:
        adapter.create_thread()

    assert "401" in str(excinfo.value)
    assert "sk-" not in str(excinfo.value)


def test_a_locked_conversation_raises_thread_busy(adapter, fake):
    conversation_id = adapter.create_thread()
    fake.fail_next("/responses", 400, body=CONVERSATION_LOCKED)

    with pytest.raises(ThreadBusy):
        adapter.run_turn(conversation_id, ["Hola"])


def test_a_turn_while_a_background_response_runs_raises_thread_busy(adapter, fake):
    conversation_id = adapter.create_thread()
    adapter.start_background(conversation_id, ["Hola"])

    with pytest.raises(ThreadBusy):
        adapter.run_turn(conversation_id, ["¿Sigues ahí?"])


def test_a_turn_past_its_deadline_raises_run_timeout(adapter, fake, catalogue):
    conversation_id = adapter.create_thread()
    fake.latency_s = 0.3

    with pytest.raises(RunTimeout):
        adapter.run_turn(conversation_id, [COURSE_QUESTION], timeout_s=0.6)

    first, second = fake.calls("/v1/responses", method="POST")
    assert first.timeout == pytest.approx(0.6, abs=0.05)
    assert second.timeout < 0.3  # the tool round only got the time left, less than the fake's latency


def test_time_up_before_the_next_round_raises_run_timeout_and_answers_the_open_calls(adapter, fake, catalogue):
    conversation_id = adapter.create_thread()
    adapter.add_user_message(conversation_id, COURSE_QUESTION)
    handle = adapter.start_run(conversation_id)

    with pytest.raises(RunTimeout):
        adapter.wait_for_run(handle, deadline=time.monotonic() - 1)

    assert len(response_posts(fake)) == 1
    (closing,) = fake.calls(f"/v1/conversations/{conversation_id}/items", method="POST")
    assert json.loads(closing.body["items"][0]["output"])["results"]  # the tool's real output
    assert adapter.run_turn(conversation_id, ["Hola"]).text.startswith("Hola, soy Brenda")


def test_a_conversation_left_with_unanswered_calls_is_repaired_on_the_next_turn(adapter, fake, catalogue):
    conversation_id = adapter.create_thread()
    fake.latency_s = 0.3
    with pytest.raises(RunTimeout):  # OpenAI answered with a function call we never saw
        adapter.run_turn(conversation_id, [COURSE_QUESTION], timeout_s=0.1)
    fake.latency_s = 0

    result = adapter.run_turn(conversation_id, ["Hola"])

    assert result.text.startswith("Hola, soy Brenda")
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.log[-4:]] == [
        ("POST", "responses"),  # refused: no tool output found
        ("GET", "items"),
        ("POST", "items"),
        ("POST", "responses"),
    ]
    assert result.openai_calls == 4


def test_endless_tool_calls_stop_at_the_round_limit(adapter, fake, openai_settings, catalogue):
    openai_settings.OPENAI_MAX_TOOL_ROUNDS = 2
    conversation_id = adapter.create_thread()
    fake.script([function_call("buscar_curso", {"name": "python"})] * 3)

    with pytest.raises(ToolRoundsExceeded):
        adapter.run_turn(conversation_id, ["Busco un curso"])

    assert len(response_posts(fake)) == 3  # the first request and two rounds of outputs
    # The abandoned calls got outputs, so the conversation still takes the next turn.
    assert adapter.run_turn(conversation_id, ["Hola"]).text.startswith("Hola, soy Brenda")


@pytest.mark.parametrize(
    ("arguments", "name"),
    [("{not json", "buscar_curso"), ('{"level": "experto en todo"}', "buscar_curso"), ("{}", "reservar_curso")],
)
def test_a_bad_tool_call_is_answered_with_a_json_error_and_the_turn_completes(
    adapter, fake, catalogue, arguments, name
):
    conversation_id = adapter.create_thread()
    fake.script([function_call(name, arguments), "Perdona, ¿qué nivel buscas?"])

    result = adapter.run_turn(conversation_id, ["Busco un curso"])

    assert result.text == "Perdona, ¿qué nivel buscas?"
    assert result.tool_calls[0]["ok"] is False
    output = json.loads(response_posts(fake)[1]["input"][0]["output"])
    assert "error" in output


@pytest.mark.parametrize("outcome", [failed(), incomplete()])
def test_a_response_that_ends_badly_raises_run_failed(adapter, fake, outcome):
    conversation_id = adapter.create_thread()
    fake.script([outcome])

    with pytest.raises(RunFailed):
        adapter.run_turn(conversation_id, ["Hola"])


def test_an_empty_answer_raises_run_failed(adapter, fake):
    conversation_id = adapter.create_thread()
    fake.script(["   "])

    with pytest.raises(RunFailed):
        adapter.run_turn(conversation_id, ["Hola"])


def test_a_background_turn_runs_its_tools_and_finishes_on_resume(adapter, fake, cheapest_beginner_course):
    conversation_id = adapter.create_thread()

    first_id = adapter.start_background(conversation_id, [COURSE_QUESTION])

    assert response_posts(fake)[0]["background"] is True
    waiting = adapter.resume_background(first_id, state={"lease_token": "t"})
    assert (waiting.done, waiting.response_id, waiting.state) == (False, first_id, {"lease_token": "t"})

    fake.complete_background(first_id)
    step = adapter.resume_background(first_id, state=waiting.state)

    assert step.done is False
    assert step.response_id != first_id
    assert [call["name"] for call in step.tool_calls] == ["buscar_curso"]
    assert step.state["rounds"] == 1
    assert step.state["lease_token"] == "t"
    assert step.openai_calls == 2  # retrieve + the next background response
    assert response_posts(fake)[1]["background"] is True

    event = fake.complete_background(step.response_id)
    assert event["type"] == "response.completed"
    final = adapter.resume_background(step.response_id, state=step.state)

    assert final.done is True
    assert cheapest_beginner_course.name in final.text
    assert final.usage.input_tokens == fake.responses[step.response_id]["usage"]["input_tokens"]


def test_a_failed_background_response_raises_run_failed(adapter, fake):
    conversation_id = adapter.create_thread()
    fake.script([failed()])
    response_id = adapter.start_background(conversation_id, ["Hola"])
    fake.complete_background(response_id)

    with pytest.raises(RunFailed):
        adapter.resume_background(response_id, state={})


def test_background_tool_rounds_are_bounded(adapter, fake, openai_settings, catalogue):
    openai_settings.OPENAI_MAX_TOOL_ROUNDS = 1
    conversation_id = adapter.create_thread()
    fake.script([function_call("buscar_curso", {"name": "python"})] * 2)
    response_id = adapter.start_background(conversation_id, ["Busco un curso"])
    fake.complete_background(response_id)
    step = adapter.resume_background(response_id, state={})
    fake.complete_background(step.response_id)

    with pytest.raises(ToolRoundsExceeded):
        adapter.resume_background(step.response_id, state=step.state)

    assert adapter.run_turn(conversation_id, ["Hola"]).text.startswith("Hola, soy Brenda")


def test_a_background_response_is_completed_by_time_when_configured(adapter, fake):
    fake.background_delay_s = 0.0
    conversation_id = adapter.create_thread()
    response_id = adapter.start_background(conversation_id, ["Hola"])

    step = adapter.resume_background(response_id, state={})

    assert step.done is True
    assert step.text.startswith("Hola, soy Brenda")


def test_cancel_background_frees_the_conversation(adapter, fake):
    conversation_id = adapter.create_thread()
    response_id = adapter.start_background(conversation_id, ["Hola"])

    adapter.cancel_background(response_id)

    assert fake.responses[response_id]["status"] == "cancelled"
    assert adapter.run_turn(conversation_id, ["Hola"]).text.startswith("Hola, soy Brenda")


def test_wait_for_run_polls_an_unfinished_response_with_back_off(fake, openai_settings):
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 4:
            fake.complete_background(response_id)

    adapter = get_adapter(engine="responses", client=fake.client(), sleep=sleep)
    conversation_id = adapter.create_thread()
    response_id = adapter.start_background(conversation_id, ["Hola"])
    response = fake.client().responses.retrieve(response_id)
    handle = RunHandle(thread_id=conversation_id, run_id=response_id, status=response.status, raw=response)

    handle = adapter.wait_for_run(handle, deadline=time.monotonic() + 5)

    assert sleeps == [0.25, 0.5, 1.0, 2.0]
    assert len(fake.calls(f"/v1/responses/{response_id}", method="GET")) == 1 + 4
    assert adapter.get_last_assistant_message(handle).startswith("Hola, soy Brenda")


def test_check_connection_retrieves_the_model(adapter, fake):
    description = adapter.check_connection()

    assert "gpt-test" in description
    assert fake.requests == [("GET", "/v1/models/gpt-test", None)]


def test_check_connection_failure_raises_engine_error(adapter, fake):
    fake.fail_next("/models", 401)

    with pytest.raises(EngineError):
        adapter.check_connection()


def test_the_adapter_works_against_the_served_fake_from_settings(fake, openai_settings, catalogue):
    openai_settings.OPENAI_BASE_URL = fake.serve()

    adapter = get_adapter()
    conversation_id = adapter.create_thread()
    result = adapter.run_turn(conversation_id, ["Hola, me llamo Eva"])

    assert adapter.name == "responses"
    assert "Te llamas Eva" in result.text
    assert fake.requests[-1][:2] == ("POST", "/v1/responses")


def test_the_client_follows_the_settings(openai_settings):
    first = get_openai_client()
    assert get_openai_client() is first
    assert first.max_retries == 0
    assert first.timeout.read == 10.0 and first.timeout.connect == 5.0

    openai_settings.OPENAI_MAX_RETRIES = 4
    second = get_openai_client()

    assert second is not first
    assert second.max_retries == 4


def test_without_an_api_key_openai_is_disabled(settings):
    settings.OPENAI_API_KEY = ""

    assert is_openai_enabled() is False
    with pytest.raises(OpenAINotConfigured):
        get_adapter()


def test_the_assistants_engine_needs_an_assistant_id(openai_settings):
    openai_settings.ASSISTANT_ID = ""

    with pytest.raises(OpenAINotConfigured):
        get_adapter(engine="assistants")


def test_an_unknown_engine_is_refused(openai_settings):
    with pytest.raises(ThreadsError):
        get_adapter(engine="chat")


def test_run_turn_needs_a_message(adapter):
    with pytest.raises(ThreadsError):
        adapter.run_turn("conv_x", [])


def test_monotonic_deadline_is_respected_by_wait_for_run(adapter, fake):
    conversation_id = adapter.create_thread()
    adapter.add_user_message(conversation_id, "Hola")
    handle = adapter.start_run(conversation_id)

    handle = adapter.wait_for_run(handle, deadline=time.monotonic() + 5)

    assert adapter.get_last_assistant_message(handle).startswith("Hola, soy Brenda")
    assert handle.openai_calls == 1
