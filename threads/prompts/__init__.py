"""The instructions Brenda's model runs with, kept as a Markdown file so they read (and diff) as prose."""

import functools
from pathlib import Path

INSTRUCTIONS_PATH = Path(__file__).with_name("brenda_instructions.md")


@functools.cache
def load_instructions() -> str:
    """Return Brenda's Spanish sales instructions, read once per process."""
    return INSTRUCTIONS_PATH.read_text(encoding="utf-8").strip()
