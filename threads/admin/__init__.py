"""Staff's side of Brenda in the Django admin.

`mappings` holds the thread mappings with their transcripts and the staff actions (reset,
pause/resume, write as a human), `records` the read-only turns and messages and the contacts,
`stats_page` the statistics page.
"""

from .mappings import OaThreadMapAdmin
from .message_templates import MessageTemplateAdmin
from .records import ContactAdmin, MessageAdmin, TurnAdmin
from .stats_page import stats_view

__all__ = ["ContactAdmin", "MessageAdmin", "MessageTemplateAdmin", "OaThreadMapAdmin", "TurnAdmin", "stats_view"]
