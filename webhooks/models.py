"""What the webhooks app stores itself: the OpenAI webhook events already seen."""

from django.db import models
from django.utils import timezone


class OpenAIWebhookEvent(models.Model):
    """One OpenAI webhook event, kept so a re-delivered event is recognised and ignored.

    OpenAI delivers at least once: the unique `event_id` lets exactly one copy through.
    """

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "brenda_openai_webhook_events"
        verbose_name = "OpenAI webhook event"

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
