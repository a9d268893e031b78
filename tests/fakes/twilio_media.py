"""A fake of Twilio's media hosting over real HTTP: the API host (Basic auth, redirects) and its CDN.

``FakeTwilioMedia()`` starts three servers on 127.0.0.1 (random ports, daemon threads):

- ``api``: demands HTTP Basic auth with ``ACCOUNT_SID``/``AUTH_TOKEN`` (401 otherwise), like
  ``api.twilio.com``. ``/media/<name>`` redirects (302) to the CDN; ``/direct/<name>`` serves the
  file itself; ``/foreign/<name>`` redirects to the foreign host; ``/missing`` is a 404;
  ``/slow`` answers after ``slow_s``; ``/bad-redirect`` redirects to no URL at all;
  ``/huge`` streams bytes without a length until the client
  stops reading (``huge_sent`` counts what left);
- ``cdn``: serves ``/files/<name>`` only to requests *without* credentials (403 otherwise), like a
  signed CDN URL;
- ``foreign``: serves anything — a host that must never be contacted.

``media.files[name] = (bytes, content_type)`` registers a file; ``media.requests`` records
``(server, path, had_authorization)``. ``media.hosts`` is the TWILIO_MEDIA_HOSTS value that allows
the api and cdn servers (not the foreign one). Call ``stop()`` at the end.
"""

from __future__ import annotations

import base64
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT_SID = "ACfake0000000000000000000000000000"
AUTH_TOKEN = "fake-auth-token"


class FakeTwilioMedia:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str, bool]] = []
        self.slow_s = 5.0
        self.huge_sent = 0
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._servers = {name: self._serve(name) for name in ("api", "cdn", "foreign")}

    # --- addresses ---------------------------------------------------------------------------

    def netloc(self, server: str) -> str:
        host, port = self._servers[server].server_address[:2]
        return f"{host}:{port}"

    def url(self, path: str, server: str = "api") -> str:
        return f"http://{self.netloc(server)}{path}"

    @property
    def hosts(self) -> list[str]:
        return [self.netloc("api"), self.netloc("cdn")]

    def calls(self, server: str) -> list[tuple[str, str, bool]]:
        with self._lock:
            return [request for request in self.requests if request[0] == server]

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    # --- the servers -------------------------------------------------------------------------

    def _serve(self, name: str) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization")
                with fake._lock:
                    fake.requests.append((name, self.path, authorization is not None))
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                getattr(fake, f"_{name}")(self, authorization)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _api(self, handler: BaseHTTPRequestHandler, authorization: str | None) -> None:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if authorization != expected:
            return _send(handler, 401, b'{"code": 20003, "message": "Authenticate"}', "application/json")
        path = handler.path
        if path.startswith("/media/"):
            return _redirect(handler, self.url("/files/" + path.removeprefix("/media/"), "cdn"))
        if path.startswith("/foreign/"):
            return _redirect(handler, self.url("/files/" + path.removeprefix("/foreign/"), "foreign"))
        if path.startswith("/direct/") and path.removeprefix("/direct/") in self.files:
            data, content_type = self.files[path.removeprefix("/direct/")]
            return _send(handler, 200, data, content_type)
        if path == "/slow":
            time.sleep(self.slow_s)
            return _send(handler, 200, b"OggS late", "audio/ogg")
        if path == "/huge":
            return self._huge(handler)
        if path == "/bad-redirect":
            handler.send_response(302)
            handler.send_header("Location", "http://[::1")  # not a URL: urljoin raises
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        return _send(handler, 404, b'{"code": 20404}', "application/json")

    def _cdn(self, handler: BaseHTTPRequestHandler, authorization: str | None) -> None:
        if authorization is not None:  # a signed CDN URL never needs, nor should see, the account's token
            return _send(handler, 403, b"credentials sent to the CDN", "text/plain")
        name = handler.path.removeprefix("/files/")
        if name not in self.files:
            return _send(handler, 404, b"no such file", "text/plain")
        data, content_type = self.files[name]
        return _send(handler, 200, data, content_type)

    def _foreign(self, handler: BaseHTTPRequestHandler, authorization: str | None) -> None:
        return _send(handler, 200, b"OggS from a host nobody allowed", "audio/ogg")

    def _huge(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/ogg")
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"OggS" + b"\0" * (64 * 1024 - 4)
        try:
            for _ in range(1024):  # up to 64 MB, unless the client hangs up first
                handler.wfile.write(chunk)
                with self._lock:
                    self.huge_sent += len(chunk)
        except OSError:
            pass
        handler.close_connection = True


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
    handler.send_response(302)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()
