"""The fake OpenAI's usage (prompt caching, reasoning, max_output_tokens, scripted usage), models and transcriptions."""

import threading

import openai
import pytest

from tests.fakes.openai import FakeOpenAI, failed

# ~1,500 tokens of instructions: past the 1,024-token threshold of prompt caching on their own.
INSTRUCTIONS = "Eres Brenda, asesora de cursos de IA. " * 160
TOOLS = [
    {
        "type": "function",
        "name": "buscar_curso",
        "description": "Busca cursos del catálogo por tema y nivel.",
        "parameters": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "level": {"type": "string"}},
            "required": [],
            "additionalProperties": False,
        },
        "strict": False,
    }
]


@pytest.fixture
def fake():
    return FakeOpenAI()


@pytest.fixture
def client(fake):
    return fake.client()


def turn(client, conversation_id=None, text="Hola, me llamo Ana", **options):
    """One responses.create in `conversation_id` (a new conversation if None)."""
    if conversation_id is None:
        conversation_id = client.conversations.create().id
    options.setdefault("instructions", INSTRUCTIONS)
    options.setdefault("tools", TOOLS)
    return client.responses.create(model="gpt-test", conversation=conversation_id, input=text, **options)


def cached(response) -> int:
    return response.usage.input_tokens_details.cached_tokens


def reasoning(response) -> int:
    return response.usage.output_tokens_details.reasoning_tokens


# --- prompt caching ---------------------------------------------------------------------------


def test_second_turn_of_a_long_conversation_is_mostly_cached(client):
    first = turn(client)
    second = turn(client, first.conversation.id, text="¿Y qué más me cuentas?")

    assert cached(first) == 0
    assert first.usage.input_tokens_details.cache_write_tokens == first.usage.input_tokens // 128 * 128
    assert second.usage.input_tokens > first.usage.input_tokens
    # The first turn's whole prompt is the second's prefix: cached in whole 128-token blocks.
    assert cached(second) == first.usage.input_tokens // 128 * 128
    assert cached(second) >= 1024
    assert cached(second) > second.usage.input_tokens * 0.9
    written = second.usage.input_tokens_details.cache_write_tokens
    assert written == second.usage.input_tokens // 128 * 128 - cached(second)


def test_a_new_conversation_with_the_same_instructions_and_tools_reuses_their_prefix(client):
    turn(client, text="Primer usuario")

    other = turn(client, text="Segundo usuario")

    assert 1024 <= cached(other) <= other.usage.input_tokens
    assert cached(other) % 128 == 0


def test_changed_instructions_get_no_cache_hits(client):
    first = turn(client)

    changed = turn(client, first.conversation.id, text="Otra pregunta", instructions="Hoy es lunes. " + INSTRUCTIONS)

    assert cached(changed) == 0


def test_changed_tools_break_the_cache_after_the_instructions(client):
    first = turn(client)
    tools = [{**TOOLS[0], "description": "Otra descripción."}]

    changed = turn(client, first.conversation.id, text="Otra pregunta", tools=tools)

    # Only the instructions (before the tools) are still a cached prefix.
    assert 1024 <= cached(changed) <= len(INSTRUCTIONS) // 4


def test_prompt_cache_key_separates_the_buckets(client):
    first = turn(client, prompt_cache_key="user-1")

    same_key = turn(client, first.conversation.id, text="Sigo", prompt_cache_key="user-1")
    other_key = turn(client, first.conversation.id, text="Sigo", prompt_cache_key="user-2")
    no_key = turn(client, text="Nuevo")

    assert cached(same_key) >= 1024
    assert cached(other_key) == 0
    assert cached(no_key) == 0
    assert first.prompt_cache_key == "user-1"


def test_short_prompts_are_never_cached(client):
    first = turn(client, instructions="Eres Brenda.")
    second = turn(client, first.conversation.id, text="Otra vez", instructions="Eres Brenda.")

    assert second.usage.input_tokens < 1024
    assert cached(second) == 0
    assert second.usage.input_tokens_details.cache_write_tokens == 0


def test_reset_prompt_cache_forgets_the_prefixes(fake, client):
    first = turn(client)
    fake.reset_prompt_cache()

    assert cached(turn(client, first.conversation.id, text="Sigo")) == 0


def test_failed_responses_report_usage_and_warm_the_cache(fake, client):
    fake.script([failed()])
    first = turn(client)

    assert first.status == "failed"
    assert first.usage.input_tokens > 1024
    assert cached(turn(client, text="Otro usuario")) >= 1024


def test_usage_is_consistent_across_concurrent_conversations(fake):
    results, errors = [], []

    def user(index):
        try:
            client = fake.client()
            first = turn(client, text=f"Usuario {index}", prompt_cache_key=f"u{index}")
            results.append(turn(client, first.conversation.id, text="Sigo", prompt_cache_key=f"u{index}"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 8
    assert all(1024 <= cached(r) <= r.usage.input_tokens for r in results)


# --- reasoning ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "tokens"),
    [("none", 0), ("minimal", 0), ("low", 16), ("medium", 64), ("high", 256), ("xhigh", 512), ("max", 1024)],
)
def test_reasoning_tokens_per_effort(client, effort, tokens):
    baseline = turn(client, reasoning={"effort": "none"})

    response = turn(client, reasoning={"effort": effort})

    assert reasoning(response) == tokens
    assert response.usage.output_tokens == baseline.usage.output_tokens + tokens
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.reasoning.effort == effort


def test_absent_effort_defaults_to_medium_unless_the_model_does_not_reason(fake, client):
    assert reasoning(turn(client)) == 64
    assert reasoning(turn(client, reasoning={"summary": "auto"})) == 64

    fake.default_reasoning_effort = None
    response = turn(client)

    assert reasoning(response) == 0
    assert response.reasoning.effort is None


def test_an_unknown_effort_is_refused(client):
    with pytest.raises(openai.BadRequestError) as caught:
        turn(client, reasoning={"effort": "extreme"})

    assert caught.value.body["param"] == "reasoning.effort"


# --- max_output_tokens ----------------------------------------------------------------------------


def test_max_output_tokens_exceeded_ends_incomplete_with_partial_usage(fake, client):
    conversation_id = client.conversations.create().id

    response = turn(client, conversation_id, reasoning={"effort": "high"}, max_output_tokens=100)

    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.max_output_tokens == 100
    assert response.output == []
    assert response.usage.output_tokens == 100
    assert reasoning(response) == 100
    assert response.usage.input_tokens > 0
    assert [item["role"] for item in fake.conversation_items(conversation_id)] == ["user"]


def test_max_output_tokens_large_enough_completes(client):
    response = turn(client, reasoning={"effort": "low"}, max_output_tokens=2000)

    assert response.status == "completed"
    assert response.max_output_tokens == 2000
    assert response.output_text.startswith("Hola, soy Brenda")
    assert reasoning(response) == 16


def test_max_output_tokens_below_16_is_refused(client):
    with pytest.raises(openai.BadRequestError):
        turn(client, max_output_tokens=10)


# --- scripted usage -------------------------------------------------------------------------------


def test_scripted_usage_is_reported_verbatim_in_order(fake, client):
    exact = {
        "input_tokens": 2000,
        "input_tokens_details": {"cached_tokens": 1536},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 200},
        "total_tokens": 2300,
    }
    fake.script_usage([exact, {"input_tokens": 10, "output_tokens": 5}])

    first = turn(client)
    second = turn(client, first.conversation.id, text="Sigo")
    third = turn(client, first.conversation.id, text="Y luego")

    assert first.usage.model_dump(exclude_none=True) == {
        **exact,
        "input_tokens_details": {"cached_tokens": 1536, "cache_write_tokens": 0},
    }
    assert second.usage.model_dump(exclude_none=True) == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    assert third.usage.input_tokens not in (2000, 10)  # estimated again
    assert fake.usage_overrides == []


def test_scripted_usage_past_max_output_tokens_ends_incomplete(fake, client):
    fake.script_usage([{"input_tokens": 50, "output_tokens": 500}])

    response = turn(client, max_output_tokens=400)

    assert response.status == "incomplete"
    assert response.usage.output_tokens == 500


# --- models ---------------------------------------------------------------------------------------


def test_unknown_models_exist_without_a_shutdown_date(client):
    model = client.models.retrieve("gpt-anything")

    assert model.id == "gpt-anything"
    assert model.shutdown_date is None


def test_set_model_adds_a_shutdown_date(fake, client):
    fake.set_model("gpt-5-mini", shutdown_date="2026-12-11")

    model = client.models.retrieve("gpt-5-mini")

    assert model.shutdown_date == "2026-12-11"
    assert fake.models["gpt-5-mini"]["shutdown_date"] == "2026-12-11"


def test_a_model_that_does_not_exist_answers_404_model_not_found(fake, client):
    fake.set_model("gone", exists=False)

    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gone")
    assert caught.value.code == "model_not_found"

    conversation_id = client.conversations.create().id
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gone", conversation=conversation_id, input="Hola")
    assert caught.value.code == "model_not_found"
    assert fake.conversation_items(conversation_id) == []

    fake.set_model("gone")
    assert client.models.retrieve("gone").id == "gone"


# --- transcriptions -------------------------------------------------------------------------------


def test_transcription_in_process(fake, client):
    audio = b"OggS\x00\r\n--not-a-boundary\r\n" + bytes(range(256)) * 8
    fake.script_transcriptions(["Hola, quiero un curso de Python"])

    first = client.audio.transcriptions.create(
        model="gpt-4o-mini-transcribe", file=("nota.ogg", audio, "audio/ogg"), language="es"
    )
    second = client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("nota.ogg", audio, "audio/ogg"))

    assert first.text == "Hola, quiero un curso de Python"
    assert second.text == f"(audio de {len(audio)} bytes)"
    form = fake.calls("/audio/transcriptions")[0].body
    assert form["model"] == "gpt-4o-mini-transcribe"
    assert form["language"] == "es"
    assert form["file"] == {"filename": "nota.ogg", "content_type": "audio/ogg", "data": audio}


def test_transcription_over_http(fake):
    base_url = fake.serve()
    try:
        client = openai.OpenAI(api_key="sk-test", base_url=base_url, max_retries=0)
        result = client.audio.transcriptions.create(model="whisper-1", file=("a.mp3", b"\xff\xfb" * 1000))
    finally:
        fake.stop()

    assert result.text == "(audio de 2000 bytes)"
    assert fake.calls("/audio/transcriptions")[0].body["file"]["data"] == b"\xff\xfb" * 1000
