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

    class Meta:
        db_table = "brenda_contacts"

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
