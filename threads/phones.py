"""WhatsApp phone numbers as Twilio sends them: `whatsapp:+<E.164 digits>`."""

import re

_E164 = re.compile(r"\+[1-9]\d{6,14}")


def normalize_whatsapp_phone(text: str) -> str | None:
    """Return `whatsapp:+<digits>` for `+521…`, `whatsapp:+521…` (spaces and dashes allowed), or None."""
    value = (text or "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    value = re.sub(r"[\s\-().]", "", value)
    return f"whatsapp:{value}" if _E164.fullmatch(value) else None
