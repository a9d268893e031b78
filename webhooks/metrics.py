"""`GET /metrics`: the Prometheus scrape, answered only with `Authorization: Bearer $METRICS_TOKEN`.

Without `METRICS_TOKEN` the route does not exist (404), so an unconfigured server reveals
nothing. The figures come from `threads.metrics`, which reads them from the database.
"""

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from threads.metrics import CONTENT_TYPE, collect_metrics, render_prometheus_text

logger = logging.getLogger(__name__)


# A scrape never changes anything; exempt, so a stray POST gets a 404 or 405 rather than a CSRF page.
@method_decorator(csrf_exempt, name="dispatch")
class MetricsView(View):
    """Check the bearer token, then render every metric family as Prometheus text."""

    http_method_names = ["get", "head"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        token = settings.METRICS_TOKEN
        if not token:
            raise Http404
        presented = _bearer_credentials(request)
        if presented is None:
            logger.info("metrics scrape from %s without a bearer token", request.META.get("REMOTE_ADDR"))
            response: HttpResponseBase = _plain("bearer token required\n", status=401)
            response["WWW-Authenticate"] = "Bearer"
        elif not hmac.compare_digest(presented, token.encode()):
            logger.warning("rejecting metrics scrape from %s: wrong token", request.META.get("REMOTE_ADDR"))
            response = _plain("invalid token\n", status=403)
        else:
            response = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(render_prometheus_text(collect_metrics()), content_type=CONTENT_TYPE)


def _plain(text: str, *, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _bearer_credentials(request: HttpRequest) -> bytes | None:
    """Return the bytes after `Bearer ` in the Authorization header, or None when there are none.

    WSGI and ASGI hand header values over as Latin-1-decoded text (PEP 3333), so encoding
    back to Latin-1 yields the bytes on the wire: a UTF-8 token compares as sent, and no
    header, however odd, raises. Anything else (a test client's arbitrary text) goes to UTF-8.
    """
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    try:
        return credentials.encode("latin-1")
    except UnicodeEncodeError:
        return credentials.encode("utf-8", "surrogatepass")
