"""Approved WhatsApp templates: the one kind of message allowed outside the 24-hour window.

A template lives at Twilio (Content API, `ContentSid` HX…); ours keeps its name, SID and a
preview of the approved text with `{{1}}`-style placeholders. Sending one validates the
variables against Twilio's and Meta's limits first, so a bad value is a clear error here
rather than a failed message at Twilio, then goes through the one outbound door like every
other message.
"""

import logging
import re
from dataclasses import dataclass

from . import handoff
from .consent import is_opted_out
from .models import Message, MessageTemplate
from .outbound import deliver_template

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]{1,16})\s*\}\}")
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
MAX_VARIABLE_CHARS = 1600  # Twilio: a variable value holds up to 1,600 characters
MAX_VARIABLES = 100  # Twilio: at most 100 variables per template
MAX_RENDERED_CHARS = 1024  # WhatsApp: template text plus values (Twilio error 63021)
# Meta refuses body parameters with new lines, tabs or more than four spaces in a row.
_FORBIDDEN_IN_VALUE = re.compile(r"[\n\r\t]| {5,}")


class TemplateError(ValueError):
    """A template that cannot be sent as asked: the message says why, for staff and scripts."""


def placeholders(body: str) -> list[str]:
    """The template's variable names in order of first appearance ("1", "2", …)."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(body):
        seen.setdefault(match.group(1), None)
    return list(seen)


def render(body: str, variables: dict[str, str]) -> str:
    """The text the user will read: the preview with each placeholder filled in."""
    return PLACEHOLDER.sub(lambda match: variables.get(match.group(1), match.group(0)), body)


def validate_variables(template: MessageTemplate, variables: dict[str, str]) -> dict[str, str]:
    """Check `variables` against the template's placeholders and the platform's limits; return them trimmed."""
    expected = placeholders(template.body)
    values = {str(key).strip(): str(value).strip() for key, value in variables.items()}
    unknown = sorted(set(values) - set(expected))
    if unknown:
        raise TemplateError(
            f"template {template.name!r} has no variable {', '.join(unknown)} (it has: {_names(expected)})"
        )
    missing = [name for name in expected if not values.get(name)]
    if missing:
        raise TemplateError(
            f"template {template.name!r} needs a value for variable {', '.join(missing)} (it has: {_names(expected)})"
        )
    if len(values) > MAX_VARIABLES:
        raise TemplateError(f"a template takes at most {MAX_VARIABLES} variables")
    for name, value in values.items():
        if len(value) > MAX_VARIABLE_CHARS:
            raise TemplateError(f"variable {name} is {len(value)} characters long; the limit is {MAX_VARIABLE_CHARS}")
        if _FORBIDDEN_IN_VALUE.search(value):
            raise TemplateError(
                f"variable {name} contains a line break, a tab or more than four spaces in a row, "
                "which WhatsApp does not allow in a template variable"
            )
    rendered = render(template.body, values)
    if len(rendered) > MAX_RENDERED_CHARS:
        raise TemplateError(
            f"the filled-in template is {len(rendered)} characters long; WhatsApp allows {MAX_RENDERED_CHARS}"
        )
    return {name: values[name] for name in expected}


def _names(names: list[str]) -> str:
    return ", ".join(names) if names else "none"


def get_active_template(name: str) -> MessageTemplate:
    """The template called `name`, if it exists and is active."""
    template = MessageTemplate.objects.filter(name=name).first()
    if template is None:
        known = ", ".join(MessageTemplate.objects.filter(active=True).values_list("name", flat=True)[:20])
        raise TemplateError(f"no template named {name!r} (active templates: {known or 'none'})")
    if not template.active:
        raise TemplateError(f"template {name!r} is inactive: activate it in the admin first")
    if not CONTENT_SID.match(template.content_sid):
        raise TemplateError(f"template {name!r} has no valid Content SID (HX followed by 32 hexadecimal digits)")
    return template


@dataclass(frozen=True)
class TemplatePreview:
    template: MessageTemplate
    variables: dict[str, str]
    text: str


def prepare_template(*, name: str, variables: dict[str, str]) -> TemplatePreview:
    """Validate a template send without sending: what the staff form shows before it confirms."""
    template = get_active_template(name)
    values = validate_variables(template, variables)
    return TemplatePreview(template=template, variables=values, text=render(template.body, values))


def send_template(
    *, user_phone: str, name: str, variables: dict[str, str], staff_user_id: int | None = None
) -> Message:
    """Send the approved template `name` to the user; raise TemplateError, sending nothing, when it cannot go.

    An opted-out user is refused here, before anything is stored; the outbound door would
    block it anyway, but staff and scripts should hear it as an error, not find a blocked row.
    A template a staff member sent that reached the user answers them, as a staff message does:
    it ends their wait for a person (`threads.handoff`), whichever admin page it was sent from.
    """
    preview = prepare_template(name=name, variables=variables)
    if is_opted_out(user_phone):
        raise TemplateError(f"{user_phone} has opted out of messages: nothing was sent")
    message = deliver_template(
        user_phone=user_phone,
        template=preview.template,
        variables=preview.variables,
        text=preview.text,
        staff_user_id=staff_user_id,
    )
    logger.info("template %s sent to %s (message %s, %s)", name, user_phone, message.pk, message.status)
    if staff_user_id is not None:
        handoff.record_staff_reply(user_phone=user_phone, messages=[message])
    return message
