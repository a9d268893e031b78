"""GET /metrics: the bearer token gate, and Prometheus text whose figures match the database."""

import math
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from threads.metrics import (
    MetricFamily,
    Sample,
    escape_label_value,
    format_value,
    render_prometheus_text,
)
from threads.models import Message, Turn

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-6f1c0a9e"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = ("0.5", "1.0", "2.0", "3.0", "5.0", "8.0", "13.0", "21.0", "34.0", "55.0", "+Inf")
PHONE = "whatsapp:+5215512345678"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    return settings


def scrape(client, token: str | None = TOKEN, **extra):
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get("/metrics", **extra)


# A tiny parser of the text exposition format 0.0.4, strict enough to catch malformed output.
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^\n]*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value)


def _parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    labels, position = [], 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"bad labels at {text[position:]!r}"
        labels.append((match[1], _unescape(match[2])))
        position = match.end()
    return tuple(sorted(labels))


def parse(text: str) -> dict:
    """Return {family: {"type", "help", "samples": {(name, labels): value}}}, checking the structure."""
    assert text.endswith("\n")
    families: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP ") :].partition(" ")
            assert name not in families, f"{name} declared twice"
            current = families[name] = {"help": help_text, "type": None, "samples": {}}
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE ") :].partition(" ")
            assert current is families.get(name), f"TYPE {name} does not follow its HELP"
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}
            current["type"] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"bad sample line {line!r}"
            assert current is not None and current["type"], f"sample before HELP/TYPE: {line!r}"
            family = next(name for name in families if families[name] is current)
            suffixes = ("_bucket", "_sum", "_count") if current["type"] == "histogram" else ("",)
            assert match["name"] in {family + suffix for suffix in suffixes}, f"{match['name']} outside {family}"
            key = (match["name"], _parse_labels(match["labels"] or ""))
            assert key not in current["samples"], f"duplicate series {key}"
            current["samples"][key] = float(match["value"])
    return families


def value(families: dict, family: str, name: str | None = None, **labels) -> float:
    return families[family]["samples"][(name or family, tuple(sorted(labels.items())))]


def make_turn(status: str, *, latency_ms: int | None = None, **fields) -> Turn:
    return Turn.objects.create(
        user_phone=PHONE,
        status=status,
        latency_ms=latency_ms,
        started_at=timezone.now() - timedelta(minutes=5),
        **fields,
    )


@pytest.fixture
def turns():
    """Turns of every status, fallback reasons, latencies across the buckets, tokens and costs."""
    make_turn(
        "completed",
        latency_ms=400,
        model="gpt-5-mini",
        input_tokens=100,
        cached_input_tokens=20,
        output_tokens=50,
        reasoning_tokens=10,
        cost_usd=Decimal("0.00120000"),
    )
    make_turn(
        "completed",
        latency_ms=1500,
        model="gpt-5-mini",
        input_tokens=200,
        cached_input_tokens=0,
        output_tokens=80,
        reasoning_tokens=30,
        cost_usd=Decimal("0.00300000"),
    )
    # Exactly on a bucket's bound: counted in it (le means "less than or equal").
    make_turn("completed", latency_ms=2000, model="mystery-model", input_tokens=7, output_tokens=3)
    make_turn("fallback", latency_ms=60_000, fallback_used=True, fallback_reason="timeout")
    make_turn("fallback", latency_ms=9000, fallback_used=True, fallback_reason="")
    make_turn("fallback", latency_ms=300, fallback_used=True, fallback_reason="limit_user_turns")
    # Status completed but the fallback answered: a fallback, with no latency recorded.
    make_turn("completed", fallback_used=True, fallback_reason="empty_reply")
    make_turn("paused", latency_ms=5)
    make_turn("abandoned", latency_ms=120_000, fallback_reason="timeout")
    make_turn("running")
    make_turn("background", model="gpt-5-mini")
    for direction, count in (("in", 3), ("out", 2)):
        for _ in range(count):
            Message.objects.create(user_phone=PHONE, direction=direction, origin="user", status="received")


def test_unset_token_is_a_404(client, settings):
    settings.METRICS_TOKEN = ""

    assert scrape(client).status_code == 404
    assert scrape(client, token=None).status_code == 404
    assert client.post("/metrics").status_code == 404


def test_missing_header_is_a_401_with_a_bearer_challenge(client, metrics_on):
    response = scrape(client, token=None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", TOKEN])
def test_header_without_bearer_credentials_is_a_401(client, metrics_on, header):
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401


def test_wrong_token_is_a_403_and_is_not_echoed(client, metrics_on, caplog):
    response = scrape(client, token="not-the-token")

    assert response.status_code == 403
    assert b"not-the-token" not in response.content
    assert TOKEN.encode() not in response.content
    assert "not-the-token" not in caplog.text
    assert "rejecting metrics scrape" in caplog.text


@pytest.mark.parametrize("presented", ["tökén-ñ", "токен", "😀", "\udcff", f"{TOKEN}é"])
def test_non_ascii_authorization_is_refused_not_a_500(client, metrics_on, presented):
    response = scrape(client, token=presented)

    assert response.status_code == 403


def test_token_compares_as_the_bytes_on_the_wire(client, settings):
    # WSGI hands headers over as Latin-1 text: a UTF-8 token arrives as its bytes decoded so.
    settings.METRICS_TOKEN = "clé-secrète"

    wire_text = "clé-secrète".encode().decode("latin-1")

    assert scrape(client, token=wire_text).status_code == 200
    assert scrape(client, token="clé-secrète").status_code == 403


def test_scheme_is_case_insensitive(client, metrics_on):
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200


def test_only_get_and_head(client, metrics_on):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

    assert client.head("/metrics", **auth).status_code == 200
    assert client.post("/metrics", **auth).status_code == 405
    assert client.put("/metrics", **auth).status_code == 405
    assert client.delete("/metrics", **auth).status_code == 405
    # Unauthenticated callers learn nothing more than that a token is needed.
    assert client.post("/metrics").status_code == 401


def test_post_is_not_turned_away_by_csrf(metrics_on):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405


def test_only_the_exact_path_is_routed(client, metrics_on):
    assert scrape(client).status_code == 200
    assert client.get("/metrics/", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_scrape_is_prometheus_text_uncached(client, metrics_on, turns):
    response = scrape(client)

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Cache-Control"] == "no-store"
    families = parse(response.content.decode())
    assert {name: family["type"] for name, family in families.items()} == {
        "brenda_turns_total": "counter",
        "brenda_turns_in_progress": "gauge",
        "brenda_fallbacks_total": "counter",
        "brenda_limited_turns_total": "counter",
        "brenda_turn_latency_seconds": "histogram",
        "brenda_tokens_total": "counter",
        "brenda_cost_usd_total": "counter",
        "brenda_turns_unpriced_total": "counter",
        "brenda_messages_total": "counter",
    }
    assert all(family["help"] for family in families.values())


def test_turn_counts_by_outcome(client, metrics_on, turns):
    families = parse(scrape(client).content.decode())

    expected = {"completed": 4, "fallback": 3, "paused": 1, "abandoned": 1, "opted_out": 0}
    for outcome, count in expected.items():
        assert value(families, "brenda_turns_total", outcome=outcome) == count
    assert len(families["brenda_turns_total"]["samples"]) == len(expected)
    assert value(families, "brenda_turns_in_progress", state="running") == 1
    assert value(families, "brenda_turns_in_progress", state="background") == 1


def test_fallbacks_by_reason(client, metrics_on, turns):
    families = parse(scrape(client).content.decode())

    reasons = {labels[0][1]: count for (_, labels), count in families["brenda_fallbacks_total"]["samples"].items()}
    # The abandoned turn's reason does not count: the fallback never answered it.
    assert reasons == {"timeout": 1, "unknown": 1, "limit_user_turns": 1, "empty_reply": 1}
    assert value(families, "brenda_limited_turns_total") == 1


def test_latency_histogram_over_answered_turns(client, metrics_on, turns):
    families = parse(scrape(client).content.decode())

    # Answered with a latency: 0.3 s, 0.4 s, 1.5 s, 2.0 s, 9 s and 60 s.
    cumulative = [2, 2, 4, 4, 4, 4, 5, 5, 5, 5, 6]
    name = "brenda_turn_latency_seconds"
    for bound, count in zip(BUCKETS, cumulative, strict=True):
        assert value(families, name, f"{name}_bucket", le=bound) == count, bound
    assert value(families, name, f"{name}_count") == 6
    assert math.isclose(value(families, name, f"{name}_sum"), 0.3 + 0.4 + 1.5 + 2.0 + 9.0 + 60.0)


def test_tokens_cost_and_unpriced_turns(client, metrics_on, turns):
    families = parse(scrape(client).content.decode())

    assert value(families, "brenda_tokens_total", kind="input") == 307
    assert value(families, "brenda_tokens_total", kind="cached_input") == 20
    assert value(families, "brenda_tokens_total", kind="output") == 133
    assert value(families, "brenda_tokens_total", kind="reasoning") == 40
    assert math.isclose(value(families, "brenda_cost_usd_total"), 0.0042)
    # The mystery model's turn; the background turn still waiting for its usage is not finished.
    assert value(families, "brenda_turns_unpriced_total") == 1


def test_messages_by_direction(client, metrics_on, turns):
    families = parse(scrape(client).content.decode())

    assert value(families, "brenda_messages_total", direction="in") == 3
    assert value(families, "brenda_messages_total", direction="out") == 2


def test_empty_database_reports_zeros(client, metrics_on):
    families = parse(scrape(client).content.decode())

    assert value(families, "brenda_turns_total", outcome="completed") == 0
    assert families["brenda_fallbacks_total"]["samples"] == {}
    assert value(families, "brenda_turn_latency_seconds", "brenda_turn_latency_seconds_bucket", le="+Inf") == 0
    assert value(families, "brenda_turn_latency_seconds", "brenda_turn_latency_seconds_sum") == 0
    assert value(families, "brenda_tokens_total", kind="input") == 0
    assert value(families, "brenda_cost_usd_total") == 0
    assert value(families, "brenda_messages_total", direction="in") == 0


def test_scrape_takes_a_bounded_number_of_queries(client, metrics_on, turns, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert scrape(client).status_code == 200


def test_token_never_appears_in_the_body(client, metrics_on, turns):
    assert TOKEN.encode() not in scrape(client).content


def test_odd_fallback_reasons_are_escaped(client, metrics_on):
    make_turn("fallback", latency_ms=100, fallback_used=True, fallback_reason='a"b\\c\nd')

    families = parse(scrape(client).content.decode())

    assert value(families, "brenda_fallbacks_total", reason='a"b\\c\nd') == 1


def test_rendering_escapes_label_values_and_help():
    family = MetricFamily(
        "x_total",
        "counter",
        "line one\\two\nthree",
        [Sample("x_total", 1, {"v": 'q"b\\n\nl'}), Sample("x_total", 0.25, {"v": "plain"})],
    )

    text = render_prometheus_text([family])

    assert text == (
        "# HELP x_total line one\\\\two\\nthree\n"
        "# TYPE x_total counter\n"
        'x_total{v="q\\"b\\\\n\\nl"} 1\n'
        'x_total{v="plain"} 0.25\n'
    )
    assert escape_label_value("ok") == "ok"


def test_rendering_refuses_invalid_names():
    with pytest.raises(ValueError, match="invalid"):
        render_prometheus_text([MetricFamily("bad-name", "counter", "h", [])])
    with pytest.raises(ValueError, match="invalid label"):
        render_prometheus_text([MetricFamily("ok", "gauge", "h", [Sample("ok", 1, {"bad-label": "v"})])])


@pytest.mark.parametrize(
    ("number", "text"),
    [(3, "3"), (0.5, "0.5"), (1.0, "1.0"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (float("nan"), "NaN")],
)
def test_numbers_are_written_as_prometheus_reads_them(number, text):
    assert format_value(number) == text
