"""The legacy assistants engine through the real adapter, with the fake OpenAI at the HTTP edge."""

import time
import warnings

import pytest

from tests.fakes.openai import expired, failed, function_call, incomplete
from threads.adapter import SeedMessage, get_adapter
from threads.exceptions import (
    EngineError,
    RunFailed,
    RunTimeout,
    ThreadBusy,
    ThreadNotFound,
    ThreadsError,
    ToolRoundsExceeded,
)

pytestmark = pytest.mark.django_db

COURSE_QUESTION = "Hola, busco un curso para principiantes"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def adapter(fake, openai_settings, sleeps):
    return get_adapter(engine="assistants", client=fake.client(), sleep=sleeps.append)


def run_status(fake, run_id):
    return fake.runs[run_id]["status"]


def test_turn_with_a_tool_round_answers_with_a_course_from_the_catalogue(adapter, fake, cheapest_beginner_course):
    thread_id = adapter.create_thread()
    fake.reset_requests()

    result = adapter.run_turn(thread_id, [COURSE_QUESTION])

    assert cheapest_beginner_course.name in result.text
    assert [(call["name"], call["ok"]) for call in result.tool_calls] == [("buscar_curso", True)]
    run_id = result.response_id
    assert [(method, path.replace(thread_id, "T").replace(run_id, "R")) for method, path, _ in fake.requests] == [
        ("POST", "/v1/threads/T/messages"),
        ("POST", "/v1/threads/T/runs"),
        ("GET", "/v1/threads/T/runs/R"),
        ("GET", "/v1/threads/T/runs/R"),  # requires_action
        ("POST", "/v1/threads/T/runs/R/submit_tool_outputs"),
        ("GET", "/v1/threads/T/runs/R"),
        ("GET", "/v1/threads/T/runs/R"),  # completed
        ("GET", "/v1/threads/T/messages"),
    ]
    assert result.openai_calls == len(fake.requests)
    (runs_post,) = [r for r in fake.calls(method="POST") if r.path.endswith("/runs")]
    assert runs_post.body == {"assistant_id": "asst_test"}
    (listing,) = fake.calls("/messages", method="GET")
    assert listing.query == {"order": "desc", "limit": "10", "run_id": run_id}
    usage = fake.runs[run_id]["usage"]
    assert (result.usage.input_tokens, result.usage.output_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_new_thread_is_seeded_and_the_model_sees_the_seed(adapter, fake):
    seed = [SeedMessage(role="user", text="Me llamo Ana"), SeedMessage(role="assistant", text="¡Hola, Ana!")]

    thread_id = adapter.create_thread(seed=seed)

    messages = fake.thread_messages(thread_id)
    assert [(m["role"], m["content"][0]["text"]["value"]) for m in messages] == [(s.role, s.text) for s in seed]
    assert "Te llamas Ana" in adapter.run_turn(thread_id, ["¿Cómo me llamo?"]).text


def test_the_thread_remembers_earlier_turns(adapter, fake):
    thread_id = adapter.create_thread()
    adapter.run_turn(thread_id, ["Me llamo Lucía"])

    result = adapter.run_turn(thread_id, ["¿Recuerdas mi nombre?"])

    assert "Te llamas Lucía" in result.text


def test_polling_backs_off_instead_of_busy_looping(adapter, fake, sleeps):
    fake.run_retrieves_per_step = 7
    thread_id = adapter.create_thread()

    adapter.run_turn(thread_id, ["Hola"])

    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert len(fake.calls("/runs/", method="GET")) == len(sleeps)


def test_polling_restarts_its_back_off_after_tool_outputs(adapter, fake, sleeps, catalogue):
    thread_id = adapter.create_thread()

    adapter.run_turn(thread_id, [COURSE_QUESTION])

    assert sleeps == [0.25, 0.5, 0.25, 0.5]


def test_a_forgotten_thread_raises_thread_not_found(adapter, fake):
    thread_id = adapter.create_thread()
    fake.forget(thread_id)

    with pytest.raises(ThreadNotFound):
        adapter.run_turn(thread_id, ["Hola"])


def test_a_conversation_id_counts_as_lost_without_a_request(adapter, fake):
    with pytest.raises(ThreadNotFound):
        adapter.run_turn("conv_abc", ["Hola"])

    assert fake.requests == []


def test_delete_thread_ignores_a_missing_thread(adapter, fake):
    thread_id = adapter.create_thread()

    adapter.delete_thread(thread_id)
    adapter.delete_thread(thread_id)

    assert thread_id not in fake.threads


def test_a_message_while_a_run_is_active_raises_thread_busy(adapter, fake):
    thread_id = adapter.create_thread()
    adapter.add_user_message(thread_id, "Hola")
    adapter.start_run(thread_id)

    with pytest.raises(ThreadBusy):
        adapter.add_user_message(thread_id, "¿Sigues ahí?")


@pytest.mark.parametrize("status", [429, 500])
def test_api_errors_after_sdk_retries_raise_engine_error(fake, openai_settings, status):
    adapter = get_adapter(engine="assistants", client=fake.client(max_retries=1), sleep=lambda s: None)
    thread_id = adapter.create_thread()
    fake.fail_next("/runs", status, times=2)

    with pytest.raises(EngineError) as excinfo:
        adapter.run_turn(thread_id, ["Hola"])

    assert type(excinfo.value) is EngineError
    assert str(status) in str(excinfo.value)


def test_a_run_past_its_deadline_raises_run_timeout_and_is_cancelled(fake, openai_settings):
    fake.run_retrieves_per_step = 10_000
    adapter = get_adapter(engine="assistants", client=fake.client(), sleep=time.sleep)
    thread_id = adapter.create_thread()

    started = time.monotonic()
    with pytest.raises(RunTimeout):
        adapter.run_turn(thread_id, ["Hola"], timeout_s=0.3)

    assert time.monotonic() - started < 1.0
    (run_id,) = fake.runs
    assert run_status(fake, run_id) == "cancelled"
    fake.run_retrieves_per_step = 1
    assert adapter.run_turn(thread_id, ["Hola otra vez"]).text.startswith("Hola, soy Brenda")


def test_endless_tool_calls_stop_at_the_round_limit_and_cancel_the_run(adapter, fake, openai_settings, catalogue):
    openai_settings.OPENAI_MAX_TOOL_ROUNDS = 2
    thread_id = adapter.create_thread()
    fake.script([function_call("buscar_curso", {"name": "python"})] * 3)

    with pytest.raises(ToolRoundsExceeded):
        adapter.run_turn(thread_id, ["Busco un curso"])

    (run_id,) = fake.runs
    assert len(fake.calls("/submit_tool_outputs")) == 2
    assert run_status(fake, run_id) == "cancelled"


def test_invalid_tool_arguments_get_a_json_error_and_the_run_completes(adapter, fake, catalogue):
    thread_id = adapter.create_thread()
    fake.script([function_call("detalle_curso", '{"id_course": "no-es-un-uuid"}'), "¿Me repites el curso?"])

    result = adapter.run_turn(thread_id, ["Quiero el detalle"])

    assert result.text == "¿Me repites el curso?"
    assert result.tool_calls[0] == {"name": "detalle_curso", "ok": False, "ms": result.tool_calls[0]["ms"]}
    (submit,) = fake.calls("/submit_tool_outputs")
    assert '"error"' in submit.body["tool_outputs"][0]["output"]


@pytest.mark.parametrize("outcome", [failed(), incomplete(), expired()])
def test_a_run_that_ends_badly_raises_run_failed(adapter, fake, outcome):
    thread_id = adapter.create_thread()
    fake.script([outcome])

    with pytest.raises(RunFailed):
        adapter.run_turn(thread_id, ["Hola"])


def test_background_mode_is_not_supported(adapter):
    assert adapter.supports_background is False
    with pytest.raises(ThreadsError):
        adapter.start_background("thread_x", ["Hola"])
    with pytest.raises(ThreadsError):
        adapter.resume_background("resp_x", state={})


def test_check_connection_retrieves_the_assistant(adapter, fake):
    description = adapter.check_connection()

    assert "asst_test" in description
    assert fake.requests == [("GET", "/v1/assistants/asst_test", None)]


def test_check_connection_with_an_unknown_assistant_raises_engine_error(fake, openai_settings):
    openai_settings.ASSISTANT_ID = "wrong-id"
    adapter = get_adapter(engine="assistants", client=fake.client())

    with pytest.raises(EngineError) as excinfo:
        adapter.check_connection()

    assert not isinstance(excinfo.value, ThreadNotFound)


def test_the_sdk_deprecation_warning_is_silenced(adapter, fake):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        thread_id = adapter.create_thread()
        adapter.run_turn(thread_id, ["Hola"])

    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []
