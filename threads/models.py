"""Who talks to Brenda, which OpenAI thread remembers them, and every message and turn."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class DatabaseNow(models.Func):
    """`now()` as a column default: the design's exact DDL on PostgreSQL, CURRENT_TIMESTAMP elsewhere."""

    template = "now()"
    output_field = models.DateTimeField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="CURRENT_TIMESTAMP", **extra_context)


class OaThreadMap(models.Model):
    """One WhatsApp user ↔ one OpenAI conversation (`conv_…`) or legacy thread (`thread_…`)."""

    user_phone = models.TextField(primary_key=True)
    thread_id = models.TextField()
    created_at = models.DateTimeField(db_default=DatabaseNow())
    updated_at = models.DateTimeField(db_default=DatabaseNow(), null=True)

    class Meta:
        db_table = "oa_threads_map"
        indexes = [
            models.Index(fields=["thread_id"], name="oa_threads_map_thread_id_idx"),
            models.Index(fields=["updated_at"], name="oa_threads_map_updated_idx"),
        ]
        verbose_name = "thread mapping"
        permissions = [
            ("reset_thread", "Can reset a user's thread"),
            ("send_staff_message", "Can send a WhatsApp message as staff"),
            ("pause_bot", "Can pause or resume the bot for a user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_phone} → {self.thread_id}"

    @property
    def engine(self) -> str:
        return engine_for_thread_id(self.thread_id)


# The one place that knows how each engine's thread ids start.
THREAD_ID_PREFIXES = {"responses": "conv_", "assistants": "thread_"}


def engine_for_thread_id(thread_id: str) -> str:
    """Tell which engine made an id: `conv_…` is a conversation, `thread_…` an Assistants thread."""
    for engine, prefix in THREAD_ID_PREFIXES.items():
        if thread_id.startswith(prefix):
            return engine
    return "unknown"


class Contact(models.Model):
    """A WhatsApp user as Brenda knows them, and the lease that serialises their turns.

    The lease (token + expiry) is a lock that lives in the database, so it holds across
    processes and hosts, and a worker that dies cannot hold it for longer than its expiry.
    """

    user_phone = models.TextField(primary_key=True)
    profile_name = models.TextField(blank=True, default="")
    bot_paused = models.BooleanField(default=False, db_default=False)
    lock_token = models.CharField(max_length=64, blank=True, default="")
    lock_expires_at = models.DateTimeField(null=True, blank=True)
    history_starts_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by a thread reset: older messages no longer seed new conversations."
    )
    limits_reset_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when staff lift the daily limits: earlier turns no longer count."
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # WhatsApp's rules (threads.consent): consent, and the 24-hour window of free-form messages.
    last_inbound_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The user's latest message: free-form replies are allowed for 24 hours after it.",
    )
    opted_out_at = models.DateTimeField(
        null=True, blank=True, help_text="When the user asked for no more messages; empty while subscribed."
    )
    opted_out_via = models.CharField(max_length=40, blank=True, default="", help_text="How: the keyword, or staff.")
    opted_in_at = models.DateTimeField(null=True, blank=True, help_text="When the user last asked for messages again.")
    opted_in_via = models.CharField(max_length=40, blank=True, default="")
    optout_notice_at = models.DateTimeField(
        null=True, blank=True, help_text="The last notice to an opted-out user (at most one per 24 hours)."
    )
    # A handoff to staff (threads.handoff): set while the user waits for a person, cleared by a reply or "resolve".
    waiting_since = models.DateTimeField(null=True, blank=True, help_text="When the user asked for a person.")
    waiting_reason = models.CharField(max_length=200, blank=True, default="")
    waiting_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="What the user wrote."
    )
    staff_read_at = models.DateTimeField(
        null=True, blank=True, help_text="When a staff member last opened the conversation in the inbox."
    )
    # The inbox's order (threads.inbox): moved by each user message and each message staff or the
    # system send (message_log); a bot reply answers a user message that already moved it.
    last_activity_at = models.DateTimeField(
        default=timezone.now, help_text="The latest message from the user, staff or the system (the inbox's order)."
    )

    class Meta:
        db_table = "brenda_contacts"
        indexes = [
            models.Index(
                fields=["opted_out_at"], name="contacts_opted_out", condition=models.Q(opted_out_at__isnull=False)
            ),
            models.Index(
                fields=["waiting_since"], name="contacts_waiting", condition=models.Q(waiting_since__isnull=False)
            ),
            models.Index(fields=["-last_activity_at", "user_phone"], name="contacts_last_activity"),
        ]
        permissions = [("use_inbox", "Can use the staff inbox")]

    def __str__(self) -> str:
        return self.profile_name or self.user_phone


# Fallback reasons of turns a budget kept from the model: "limit_user_turns", "limit_user_cost", "limit_daily_cost".
LIMIT_REASON_PREFIX = "limit_"


class Turn(models.Model):
    """One processed batch of inbound messages: what the engine did and how long it took."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        BACKGROUND = "background", "Waiting for OpenAI (background)"
        COMPLETED = "completed", "Completed"
        FALLBACK = "fallback", "Answered by fallback"
        PAUSED = "paused", "Bot paused (not answered)"
        OPTED_OUT = "opted_out", "Opted out (not answered)"
        ABANDONED = "abandoned", "Abandoned (worker lost; messages re-queued)"

    user_phone = models.TextField()
    thread_id = models.TextField(blank=True, default="")
    engine = models.CharField(max_length=20, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    response_id = models.TextField(blank=True, default="", help_text="Last response (or run) id.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=100, blank=True, default="", help_text="Set when the model was asked.")
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="Reasoning tokens included.")
    reasoning_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True, help_text="Empty when the model has no price."
    )
    openai_calls = models.PositiveIntegerField(default=0)
    fallback_used = models.BooleanField(default=False)
    fallback_reason = models.CharField(max_length=32, blank=True, default="")
    price_checks = models.JSONField(
        default=list, blank=True, help_text="Money amounts found in the model's replies and what was done."
    )
    error = models.TextField(blank=True, default="")
    state = models.JSONField(default=dict, blank=True, help_text="Engine state kept between webhook steps.")
    lease_token = models.CharField(
        max_length=64, blank=True, default="", help_text="The user's lease this turn holds while it is open."
    )

    class Meta:
        db_table = "brenda_turns"
        indexes = [
            models.Index(fields=["user_phone", "started_at"], name="turns_phone_started"),
            models.Index(fields=["response_id"], name="turns_response_id"),
            models.Index(fields=["started_at"], name="turns_started"),
            models.Index(
                fields=["started_at"],
                name="turns_open",
                condition=models.Q(status__in=["running", "background"]),
            ),
        ]

    def __str__(self) -> str:
        return f"turn {self.pk} ({self.user_phone}, {self.status})"

    @property
    def limited(self) -> bool:
        """Whether a budget limit kept this turn from the model."""
        return self.fallback_reason.startswith(LIMIT_REASON_PREFIX)

    @property
    def tool_names(self) -> list[str]:
        return [call.get("name", "?") for call in self.tool_calls]


# Turns that ended with a reply to the user; `OPEN_STATUSES` are still at work.
ANSWERED_STATUSES = (Turn.Status.COMPLETED, Turn.Status.FALLBACK)
OPEN_STATUSES = (Turn.Status.RUNNING, Turn.Status.BACKGROUND)


class Message(models.Model):
    """Every WhatsApp message in or out: the local memory of each conversation and the source of stats."""

    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound"
        OUTBOUND = "out", "Outbound"

    class Origin(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        FALLBACK = "fallback", "Fallback responder"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System notice"

    class Status(models.TextChoices):
        # inbound
        RECEIVED = "received", "Received"
        HELD = "held", "Held (bot paused)"
        # outbound, Twilio's own statuses plus our pending/console
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        UNDELIVERED = "undelivered", "Undelivered"
        CONSOLE = "console", "Printed (console backend)"
        # refused before it reached Twilio (WhatsApp's rules); `error_code` says why
        BLOCKED = "blocked", "Blocked (not sent)"

    class Notice(models.TextChoices):
        """Messages the consent rules let through to an opted-out user: the answers to their keyword."""

        NONE = "", "-"
        OPTED_OUT = "opted_out", "Opt-out confirmation"
        OPTOUT_REMINDER = "optout_reminder", "Reminder that messages are off"
        OPTED_IN = "opted_in", "Opt-in confirmation"

    user_phone = models.TextField()
    direction = models.CharField(max_length=3, choices=Direction.choices)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    twilio_sid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    body = models.TextField(blank=True, default="")
    media = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    error_code = models.CharField(max_length=16, blank=True, default="")
    thread_id = models.TextField(blank=True, default="")
    turn = models.ForeignKey(Turn, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    send_attempts = models.PositiveSmallIntegerField(default=0)
    notice = models.CharField(max_length=20, choices=Notice.choices, blank=True, default="")
    template = models.ForeignKey(
        "MessageTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    template_variables = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "brenda_messages"
        indexes = [
            models.Index(fields=["user_phone", "created_at"], name="messages_phone_created"),
            models.Index(fields=["created_at"], name="messages_created"),
            models.Index(
                fields=["user_phone", "id"],
                name="messages_pending_inbound",
                condition=models.Q(direction="in", turn__isnull=True, status="received"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.user_phone} #{self.pk}"

    @property
    def status_note(self) -> str:
        """Why a message was blocked or failed, in a sentence for staff ("" when there is nothing to explain)."""
        if self.status not in (self.Status.BLOCKED, self.Status.FAILED, self.Status.UNDELIVERED) or not self.error_code:
            return ""
        return STATUS_NOTES.get(self.error_code, f"Twilio error {self.error_code}.")


# Why a message did not reach the user: our refusals (threads.consent) and Twilio's most common codes.
STATUS_NOTES = {
    "opted_out": "Not sent: the user opted out of messages. They can write ALTA to opt back in.",
    "window_closed": (
        "Not sent: more than 24 hours have passed since the user's last message, "
        "so WhatsApp allows only an approved template."
    ),
    "63016": ("Twilio 63016: outside WhatsApp's 24-hour window. Only an approved template can reach the user now."),
    "63024": "Twilio 63024: the recipient is not a valid WhatsApp user.",
    "63003": "Twilio 63003: the recipient's WhatsApp number is unreachable.",
    "63021": "Twilio 63021: WhatsApp rejected the content (a template with its values over 1,024 characters?).",
    "63049": "Twilio 63049: Meta chose not to deliver this marketing message to the user.",
    "21610": "Twilio 21610: the user blocked messages from this number (STOP).",
    "send_failed": "Could not be sent (no error code).",
}


class MessageTemplate(models.Model):
    """A template approved by Meta (Twilio Content API): the only message allowed outside the 24-hour window."""

    name = models.CharField(max_length=100, unique=True)
    content_sid = models.CharField(
        max_length=34, help_text="Twilio's Content SID (HX followed by 32 hexadecimal digits)."
    )
    language = models.CharField(max_length=10, default="es")
    body = models.TextField(help_text="The approved text with {{1}}-style placeholders: the preview staff see.")
    variables = models.TextField(
        blank=True, default="", help_text="What each placeholder holds, one per line (e.g. '1: first name')."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "brenda_message_templates"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConsentEvent(models.Model):
    """Each opt-out and opt-in, for the stats: the contact keeps only the latest of each."""

    class Kind(models.TextChoices):
        OPT_OUT = "opt_out", "Opted out"
        OPT_IN = "opt_in", "Opted in"

    user_phone = models.TextField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    via = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "brenda_consent_events"
        indexes = [models.Index(fields=["created_at"], name="consent_events_created")]

    def __str__(self) -> str:
        return f"{self.user_phone} {self.get_kind_display().lower()} ({self.via})"


class Handoff(models.Model):
    """One request for a person (the model's tool or the rule-based responder): the history the stats read.

    The contact carries the open one (`Contact.waiting_since`) for the inbox; this row keeps
    when staff first answered and how it ended.
    """

    class Via(models.TextChoices):
        TOOL = "tool", "Model (solicitar_asesor)"
        RULES = "rules", "Rule-based responder"

    class Outcome(models.TextChoices):
        OPEN = "", "Open"
        REPLIED = "replied", "Staff replied"
        RESOLVED = "resolved", "Resolved by staff"
        RESUMED = "resumed", "Bot resumed"
        TIMED_OUT = "timed_out", "Bot resumed after the timeout"

    user_phone = models.TextField()
    via = models.CharField(max_length=8, choices=Via.choices)
    reason = models.CharField(max_length=200, blank=True, default="")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When staff were e-mailed.")
    notify_error = models.CharField(max_length=200, blank=True, default="")
    note_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the user was told the team is still on it (HANDOFF_TIMEOUT_MIN)."
    )
    first_staff_reply_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "brenda_handoffs"
        indexes = [
            models.Index(fields=["requested_at"], name="handoffs_requested"),
            models.Index(fields=["user_phone", "requested_at"], name="handoffs_phone_requested"),
        ]

    def __str__(self) -> str:
        return f"handoff {self.pk} ({self.user_phone})"
