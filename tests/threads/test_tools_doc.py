"""docs/OPENAI_TOOLS.md publishes the tool schemas for operators: it must match the registry."""

import json
import re
from pathlib import Path

from django.conf import settings

from threads.prompts import INSTRUCTIONS_PATH
from threads.tools import tool_schemas_for_assistants, tool_schemas_for_responses

DOC = Path(settings.BASE_DIR) / "docs" / "OPENAI_TOOLS.md"


def json_blocks() -> list:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)]


def test_the_documented_responses_schemas_equal_the_registry():
    assert json_blocks()[0] == tool_schemas_for_responses()


def test_the_documented_assistants_schemas_equal_the_registry():
    assert json_blocks()[1] == tool_schemas_for_assistants()


def test_the_doc_points_at_the_instructions_file_and_the_webhook():
    text = DOC.read_text(encoding="utf-8")

    assert str(INSTRUCTIONS_PATH.relative_to(settings.BASE_DIR)) in text
    assert "/webhooks/openai" in text


def test_the_instructions_name_both_tools_and_are_read_once():
    from threads.prompts import load_instructions

    text = load_instructions()

    assert "buscar_curso" in text and "detalle_curso" in text
    assert load_instructions() is text
