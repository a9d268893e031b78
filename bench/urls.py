"""The bench's URL map: a trivial view (the floor of what gunicorn + Django can serve) and Brenda's URLs."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@csrf_exempt
def trivial_view(request: HttpRequest) -> HttpResponse:
    """Answer what the Twilio webhook answers, without verifying, storing or enqueueing anything."""
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


urlpatterns = [
    path("bench/trivial", trivial_view, name="bench-trivial"),
    path("", include("brenda.urls")),
]
