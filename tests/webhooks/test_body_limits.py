"""Webhook bodies are judged before they are read (type 415, size 413), and no header makes a 500.

The in-process tests go through the test client and the whole middleware stack; the `slow`
ones talk raw HTTP to a real gunicorn, to show the refusal comes back before the body is sent.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client

from tests.webhooks.conftest import OPENAI_WEBHOOK_SECRET, inbound_params, response_event, twilio_signature
from threads.models import Contact, Message
from webhooks.models import OpenAIWebhookEvent

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
TWILIO_URLS = ["/webhooks/twilio", "/webhooks/twilio/", "/webhooks/twilio/status"]
MULTIPART = "multipart/form-data; boundary=brenda-test-boundary"


def multipart_body(size: int, **fields: str) -> bytes:
    parts = [
        f'--brenda-test-boundary\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    upload = b'--brenda-test-boundary\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
    upload += b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * size + b"\r\n"
    return b"".join(parts) + upload + b"--brenda-test-boundary--\r\n"


uploads_started: list[str] = []


class RecordingUploadHandler(TemporaryFileUploadHandler):
    """Django's own temporary-file handler, noting each file it starts to write."""

    def new_file(self, field_name, file_name, *args, **kwargs):
        uploads_started.append(file_name)
        return super().new_file(field_name, file_name, *args, **kwargs)


@pytest.fixture
def upload_dir(settings, tmp_path):
    """Uploads go to an empty directory of this test, through a handler that says when it starts one."""
    directory = tmp_path / "uploads"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.RecordingUploadHandler"]
    uploads_started.clear()
    yield directory
    uploads_started.clear()


# --- content type -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", TWILIO_URLS)
@pytest.mark.parametrize("content_type", [MULTIPART, "application/json", "text/plain", "application/xml", ""])
def test_twilio_webhooks_refuse_anything_but_a_form_with_415(client, twilio_settings, url, content_type):
    params = inbound_params()
    body = json.dumps(params) if content_type == "application/json" else urlencode(params)
    signature = twilio_signature(f"http://testserver{url}", params)

    response = client.post(url, body, content_type=content_type, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 415
    assert FORM in response.json()["error"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8", "UTF8", "no-such-charset"])
def test_form_with_a_utf8_charset_by_any_name_is_accepted(client, twilio_settings, charset):
    params = inbound_params()
    url = "/webhooks/twilio"
    signature = twilio_signature(f"http://testserver{url}", params)

    body = urlencode(params).encode()  # generic(): the test client would encode post() data in that charset
    content_type = f"{FORM.upper()}; charset={charset}"
    response = client.generic("POST", url, body, content_type=content_type, HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 200
    assert Message.objects.get().body == params["Body"]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "rot13", "hex"])
def test_form_in_another_charset_is_a_415_before_any_signature_check(client, twilio_settings, settings, charset, debug):
    settings.DEBUG = debug  # Django's DEBUG error page re-read the form: a 500

    body = urlencode(inbound_params()).encode()
    response = client.generic("POST", "/webhooks/twilio", body, content_type=f"{FORM}; charset={charset}")

    assert response.status_code == 415
    assert response.json() == {"error": "unsupported charset: send UTF-8"}
    assert not Message.objects.exists()


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", TWILIO_URLS)
def test_a_form_with_too_many_fields_is_a_400_without_a_traceback(
    client, twilio_settings, settings, caplog, url, debug
):
    settings.DEBUG = debug
    body = "&".join(f"f{n}=x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = client.post(url, body, content_type=FORM)

    assert response.status_code == 400
    assert response.json() == {"error": "unreadable form body"}
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


@pytest.mark.parametrize("content_type", [FORM, MULTIPART, "text/plain", ""])
def test_openai_webhook_refuses_anything_but_json_with_415(client, openai_settings, content_type):
    response = client.post("/webhooks/openai", json.dumps(response_event()), content_type=content_type)

    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert not OpenAIWebhookEvent.objects.exists()


def test_other_methods_still_get_405(client, twilio_settings):
    assert client.get("/webhooks/twilio").status_code == 405
    assert client.put("/webhooks/openai", "x", content_type="text/plain").status_code == 405


def test_other_paths_are_not_judged(client, twilio_settings):
    # The admin's login form is multipart-free but not a webhook: no 415 for its type.
    assert client.post("/admin/login/", "x", content_type="text/plain").status_code != 415


# --- size ---------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413(client, twilio_settings, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    params = inbound_params(Body="a" * 3000)
    url = "/webhooks/twilio"

    response = client.post(
        url,
        urlencode(params),
        content_type=FORM,
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(f"http://testserver{url}", params),
    )

    assert response.status_code == 413
    assert "2048" in response.json()["error"]
    assert not Message.objects.exists()


def test_a_body_at_the_limit_is_accepted(client, twilio_settings, settings):
    params = inbound_params(Body="a" * 1500)
    body = urlencode(params)
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)
    url = "/webhooks/twilio"

    response = client.post(
        url, body, content_type=FORM, HTTP_X_TWILIO_SIGNATURE=twilio_signature(f"http://testserver{url}", params)
    )

    assert response.status_code == 200


def test_the_default_limit_is_64_kb(client, twilio_settings):
    from django.conf import settings

    assert settings.WEBHOOK_MAX_BODY_BYTES == 65536


def test_a_10_mb_form_is_refused_and_nothing_is_written(client, twilio_settings, upload_dir):
    params = inbound_params()
    big = urlencode({**params, "Body": "x" * 10_000_000})

    response = client.post("/webhooks/twilio", big, content_type=FORM, HTTP_X_TWILIO_SIGNATURE="forged")

    assert response.status_code == 413
    assert list(upload_dir.iterdir()) == []
    assert not Message.objects.exists()


@pytest.mark.parametrize("url", ["/webhooks/twilio", "/webhooks/twilio/status"])
def test_a_10_mb_multipart_upload_is_refused_before_django_parses_it(client, twilio_settings, upload_dir, url):
    body = multipart_body(10_000_000, **inbound_params())

    response = client.post(url, body, content_type=MULTIPART, HTTP_X_TWILIO_SIGNATURE="forged")

    assert response.status_code in (413, 415)
    assert uploads_started == []  # Django's upload handler never started a file
    assert list(upload_dir.iterdir()) == []


def test_a_small_multipart_form_is_refused_too(client, twilio_settings, upload_dir):
    response = client.post("/webhooks/twilio", multipart_body(100, **inbound_params()), content_type=MULTIPART)

    assert response.status_code == 415
    assert uploads_started == []
    assert not Contact.objects.exists()


def test_an_invalid_content_length_is_a_400(twilio_settings):
    response = Client().generic(
        "POST", "/webhooks/twilio", urlencode(inbound_params()), content_type=FORM, CONTENT_LENGTH="12abc"
    )

    assert response.status_code == 400


def test_a_chunked_body_over_the_limit_is_refused_while_reading(twilio_settings, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    # No Content-Length, as a server hands over a chunked body.
    response = Client().generic(
        "POST",
        "/webhooks/twilio",
        "x" * 5000,
        content_type=FORM,
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )

    assert response.status_code == 413
    assert not Message.objects.exists()


# --- malformed signature headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "ñ" * 28,  # non-ASCII (a WSGI header arrives as latin-1 text)
        "€uro-sign",
        "A" * 100_000,
        "!!!",
        "   ",
        "v1,abc",
        "\t\x01\x7f",
        "=" * 28,
    ],
)
@pytest.mark.parametrize("url", ["/webhooks/twilio", "/webhooks/twilio/status"])
def test_malformed_twilio_signatures_are_a_403_never_a_500(post_twilio, dummy_tasks, url, signature):
    response = post_twilio(url, inbound_params(MessageStatus="delivered"), signature=signature)

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert dummy_tasks.results == []


def _openai_headers(**overrides: str) -> dict:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    now = datetime.now(UTC)
    headers = {
        "HTTP_WEBHOOK_ID": "msg_1",
        "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": Webhook(OPENAI_WEBHOOK_SECRET).sign("msg_1", now, json.dumps(response_event())),
    }
    headers.update({f"HTTP_WEBHOOK_{name.upper()}": value for name, value in overrides.items()})
    return headers


@pytest.mark.parametrize(
    "overrides",
    [
        {"signature": "v1,ñandú"},  # non-ASCII: the SDK's compare_digest raised TypeError (a 500)
        {"signature": "ñ"},
        {"signature": "v1,€"},
        {"signature": "v1," + "A" * 100_000},
        {"signature": "garbage"},
        {"signature": "v1,"},
        {"signature": ""},
        {"timestamp": "ñ"},
        {"timestamp": "not-a-number"},
        {"timestamp": "9" * 5000},
        {"timestamp": "-1"},
        {"id": "ñ" * 10},
        {"id": "x" * 100_000},
    ],
)
def test_malformed_openai_signature_headers_are_a_400_never_a_500(client, openai_settings, overrides):
    response = client.post(
        "/webhooks/openai",
        json.dumps(response_event()),
        content_type="application/json",
        **_openai_headers(**overrides),
    )

    assert response.status_code == 400
    assert not OpenAIWebhookEvent.objects.exists()


def test_the_openai_header_matrix_starts_from_a_valid_request(client, openai_settings, dummy_tasks):
    response = client.post(
        "/webhooks/openai", json.dumps(response_event()), content_type="application/json", **_openai_headers()
    )

    assert response.status_code == 200


def test_a_non_utf8_openai_body_is_a_400(client, openai_settings):
    response = client.post("/webhooks/openai", b"\xff\xfe{}", content_type="application/json", **_openai_headers())

    assert response.status_code == 400


# --- against a real gunicorn, over a raw socket -----------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
LIVE_TOKEN = "live-test-twilio-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory):
    """A real gunicorn serving Brenda, with its own empty temporary directory (TMPDIR)."""
    base = tmp_path_factory.mktemp("live")
    tmp_dir = base / "tmp"
    tmp_dir.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TWILIO_", "DJANGO_", "DATABASE_"))}
    env.update(
        TMPDIR=str(tmp_dir),
        DATABASE_URL=f"sqlite:///{base / 'brenda.sqlite3'}",
        SECRET_KEY="live-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1",
        TASKS_BACKEND="database",
        TWILIO_AUTH_TOKEN=LIVE_TOKEN,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        OPENAI_WEBHOOK_SECRET="whsec_" + base64.b64encode(b"live-test-webhook-secret-32bytes").decode(),
        WEBHOOK_MAX_BODY_BYTES="65536",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "brenda.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "gunicorn exited early"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        yield port, tmp_dir
    finally:
        server.terminate()
        server.wait(15)


def _send_headers(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode("latin-1"))
    return sock


def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed before a status line: {data!r}"
        data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/webhooks/twilio", "/webhooks/twilio/status", "/webhooks/openai"])
def test_live_a_large_multipart_upload_is_refused_from_its_headers(gunicorn_server, path):
    port, tmp_dir = gunicorn_server
    sock = _send_headers(
        port,
        path,
        {
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": "500000000",
            "X-Twilio-Signature": "forged",
        },
    )
    with sock:
        # Nothing of the body was sent: the answer comes from the headers alone.
        assert _read_status(sock) in (413, 415)
    assert list(tmp_dir.iterdir()) == []


@pytest.mark.slow
def test_live_a_large_form_is_refused_from_its_headers(gunicorn_server):
    port, _ = gunicorn_server
    with _send_headers(port, "/webhooks/twilio", {"Content-Type": FORM, "Content-Length": "10000000"}) as sock:
        assert _read_status(sock) == 413


@pytest.mark.slow
def test_live_a_half_sent_multipart_body_leaves_no_temporary_file(gunicorn_server):
    port, tmp_dir = gunicorn_server
    body = multipart_body(10_000_000, **inbound_params())
    sock = _send_headers(port, "/webhooks/twilio", {"Content-Type": MULTIPART, "Content-Length": str(len(body))})
    with sock:
        sock.sendall(body[:3_000_000])  # more than Django keeps in memory before it spools to a file
        status = _read_status(sock)
        assert list(tmp_dir.iterdir()) == []
    assert status == 415


@pytest.mark.slow
def test_live_a_chunked_body_is_cut_off_at_the_limit(gunicorn_server):
    port, _ = gunicorn_server
    sock = _send_headers(port, "/webhooks/twilio", {"Content-Type": FORM, "Transfer-Encoding": "chunked"})
    with sock:
        chunk = b"a" * 16384
        status = None
        try:
            for _ in range(64):  # 1 MB in all, if the server let it in
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:  # the server answered and closed while we were still sending
            pass
        status = _read_status(sock)
    assert status == 413


@pytest.mark.slow
def test_live_a_small_chunked_form_reaches_the_view(gunicorn_server):
    port, _ = gunicorn_server
    url = f"http://127.0.0.1:{port}/webhooks/twilio"
    params = inbound_params(From="not-a-phone")  # signed and parsed: a 400 for the sender, no database needed
    body = urlencode(params).encode()
    signature = twilio_signature(url, params, token=LIVE_TOKEN)
    sock = _send_headers(
        port,
        "/webhooks/twilio",
        {"Content-Type": FORM, "Transfer-Encoding": "chunked", "X-Twilio-Signature": signature},
    )
    with sock:
        sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        # 400 for the sender proves the body was read whole: an empty one would fail the signature (403).
        assert _read_status(sock) == 400


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/webhooks/openai", "webhook-signature", "v1,\xf1and\xfa"),
        ("/webhooks/openai", "webhook-id", "\xf1" * 8),
        ("/webhooks/twilio", "X-Twilio-Signature", "\xf1" * 28),
    ],
)
def test_live_non_ascii_signature_headers_are_refused_not_a_500(gunicorn_server, path, name, value):
    port, _ = gunicorn_server
    body = json.dumps(response_event()).encode() if "openai" in path else urlencode(inbound_params()).encode()
    content_type = "application/json" if "openai" in path else FORM
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), name: value}
    if "openai" in path:
        headers.setdefault("webhook-id", "msg_1")
        headers.setdefault("webhook-timestamp", str(int(time.time())))
        headers.setdefault("webhook-signature", "v1,abc")
    with _send_headers(port, path, headers) as sock:
        sock.sendall(body)
        assert _read_status(sock) in (400, 403)
