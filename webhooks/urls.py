"""Routes of the HTTP surface (DESIGN.md). Webhook paths work with and without a trailing slash.

Twilio and OpenAI POST to exactly the URL they were given: a redirect to the slashed path
would lose the body, so both spellings are routed instead of relying on APPEND_SLASH.
"""

import re

from django.urls import re_path

from messaging.backends import STATUS_CALLBACK_PATH

from . import views

# The path the Twilio backend sends as each message's status callback.
STATUS_CALLBACK_ROUTE = rf"^{re.escape(STATUS_CALLBACK_PATH.removeprefix('/'))}/?$"

urlpatterns = [
    re_path(r"^$", views.HealthView.as_view(), name="health"),
    re_path(r"^webhooks/twilio/?$", views.TwilioInboundView.as_view(), name="twilio-inbound"),
    re_path(STATUS_CALLBACK_ROUTE, views.TwilioStatusView.as_view(), name="twilio-status"),
    re_path(r"^webhooks/openai/?$", views.OpenAIWebhookView.as_view(), name="openai-webhook"),
    re_path(r"^webhooks/openai/health/?$", views.OpenAIHealthView.as_view(), name="openai-health"),
]
