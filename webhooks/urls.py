"""Routes of the HTTP surface (DESIGN.md). Webhook paths work with and without a trailing slash.

Twilio and OpenAI POST to exactly the URL they were given: a redirect to the slashed path
would lose the body, so both spellings are routed instead of relying on APPEND_SLASH.
"""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^$", views.HealthView.as_view(), name="health"),
    re_path(r"^webhooks/twilio/?$", views.TwilioInboundView.as_view(), name="twilio-inbound"),
    re_path(r"^webhooks/twilio/status/?$", views.TwilioStatusView.as_view(), name="twilio-status"),
    re_path(r"^webhooks/openai/?$", views.OpenAIWebhookView.as_view(), name="openai-webhook"),
    re_path(r"^webhooks/openai/health/?$", views.OpenAIHealthView.as_view(), name="openai-health"),
]
