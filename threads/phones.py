"""WhatsApp phone numbers as Twilio sends them: `whatsapp:+<E.164 digits>`."""

import re

_E164 = r"\+[1-9][0-9]{6,14}"  # ASCII digits only: \d would take other scripts' digits too
# A sender as Twilio writes it: `whatsapp:+<E.164>` for WhatsApp, bare E.164 for SMS.
SENDER_PATTERN = rf"^(whatsapp:)?{_E164}$"


def normalize_whatsapp_phone(text: str) -> str | None:
    """Return `whatsapp:+<digits>` for `+521…`, `whatsapp:+521…` (spaces and dashes allowed), or None."""
    value = (text or "").strip()
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    value = re.sub(r"[\s\-().]", "", value)
    return f"whatsapp:{value}" if re.fullmatch(_E164, value) else None


def format_phone(user_phone: str) -> str:
    """Show a WhatsApp sender without Twilio's channel prefix ("+5215512345678")."""
    return user_phone.removeprefix("whatsapp:")
