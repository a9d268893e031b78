"""Load generation against 127.0.0.1: pre-signed webhook requests, a threaded Python client, and wrk.

Every Twilio request is signed ahead of time (the signature covers the URL and every form
field, and each `MessageSid` must be new), so the client only sends bytes. The Python client
keeps one persistent HTTP/1.1 connection per thread and runs either closed-loop (as fast as
the server answers) or open-loop at a fixed rate; at a fixed rate, latency counts from when a
request was due, so a server that falls behind is not flattered (no coordinated omission).
"""

import http.client
import itertools
import json
import logging
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from .common import percentile

logger = logging.getLogger(__name__)

TWILIO_PATH = "/webhooks/twilio"
OPENAI_PATH = "/webhooks/openai"
TRIVIAL_PATH = "/bench/trivial"
FORM = "application/x-www-form-urlencoded"
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PreparedRequest:
    path: str
    body: bytes
    headers: dict[str, str]


def phone_for(user: int) -> str:
    return f"whatsapp:+52155{user:08d}"


def twilio_requests(
    *,
    public_base_url: str,
    auth_token: str,
    count: int,
    users: int,
    text: str,
    path: str = TWILIO_PATH,
    first_user: int = 0,
) -> list[PreparedRequest]:
    """Return `count` signed inbound-message webhooks, from `users` distinct senders in turn, each with a new sid."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(auth_token)
    url = public_base_url.rstrip("/") + path
    tag = uuid.uuid4().hex[:8]
    prepared = []
    for index in range(count):
        user = first_user + index % users
        params = {
            "MessageSid": f"SM{tag}{index:024x}",
            "AccountSid": "AC" + "b" * 32,
            "From": phone_for(user),
            "To": "whatsapp:+14155238886",
            "Body": text,
            "NumMedia": "0",
            "ProfileName": f"Bench {user}",
            "WaId": phone_for(user).removeprefix("whatsapp:+"),
            "MessageType": "text",
        }
        headers = {"Content-Type": FORM, "X-Twilio-Signature": validator.compute_signature(url, params)}
        prepared.append(PreparedRequest(path=path, body=urlencode(params).encode(), headers=headers))
    return prepared


def openai_event_request(event: dict, *, secret: str) -> PreparedRequest:
    """Sign an OpenAI webhook event the way OpenAI does (Standard Webhooks)."""
    from standardwebhooks import Webhook

    body = json.dumps(event)
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    return PreparedRequest(path=OPENAI_PATH, body=body.encode(), headers=headers)


@dataclass
class LoadResult:
    """What a load run got back."""

    generator: str
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # exception names (no answer)
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    behind_s: float = 0.0  # fixed rate: how late the last request left (0 when the client kept up)
    p50_s: float | None = None  # wrk reports percentiles only
    p99_s: float | None = None
    max_s: float | None = None
    unanswered: int = 0  # wrk: requests cut off by the end of the run (their outcome is unknown)

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def summary(self) -> dict:
        p50 = self.p50_s if self.p50_s is not None else percentile(self.latencies_s, 50)
        p99 = self.p99_s if self.p99_s is not None else percentile(self.latencies_s, 99)
        worst = self.max_s if self.max_s is not None else (max(self.latencies_s) if self.latencies_s else None)
        return {
            "generator": self.generator,
            "sent": self.sent,
            "ok": self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "elapsed_s": round(self.elapsed_s, 3),
            "rps": self.ok / self.elapsed_s if self.elapsed_s else None,
            "p50_ms": p50 * 1000 if p50 is not None else None,
            "p99_ms": p99 * 1000 if p99 is not None else None,
            "max_ms": worst * 1000 if worst is not None else None,
            "behind_s": round(self.behind_s, 3),
            "unanswered": self.unanswered,
        }


class _Connection:
    """One persistent connection, reopened after an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: http.client.HTTPConnection | None = None

    def send(self, request: PreparedRequest) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            self.conn.request("POST", request.path, body=request.body, headers=request.headers)
            response = self.conn.getresponse()
            response.read()
            if response.will_close:
                self.close()
            return response.status
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_python_load(
    requests: list[PreparedRequest],
    *,
    host: str,
    port: int,
    connections: int,
    duration_s: float,
    rate: float | None = None,
) -> LoadResult:
    """Send `requests` in order until they run out or `duration_s` passes; at `rate` per second if given.

    Bounded in count (the list) and time (the duration, plus at most one request timeout).
    """
    result = LoadResult(generator="python")
    lock = threading.Lock()
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + duration_s

    def worker() -> None:
        conn = _Connection(host, port)
        latencies, statuses, errors, sent, behind = [], Counter(), Counter(), 0, 0.0
        try:
            while True:
                index = next(counter)
                if index >= len(requests):
                    break
                if rate is None:
                    if time.perf_counter() >= deadline:
                        break
                    due = time.perf_counter()
                else:
                    due = started + index / rate
                    if due >= deadline:
                        break
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    else:
                        behind = max(behind, -wait)
                sent += 1
                try:
                    status = conn.send(requests[index])
                except Exception as exc:  # counted, never raised: the run goes on
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - due)
                statuses[status] += 1
        finally:
            conn.close()
            with lock:
                result.latencies_s.extend(latencies)
                result.statuses.update(statuses)
                result.errors.update(errors)
                result.sent += sent
                result.behind_s = max(result.behind_s, behind)

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration_s + REQUEST_TIMEOUT_S + 5)
    result.elapsed_s = time.perf_counter() - started
    return result


def send_all(requests: list[PreparedRequest], *, host: str, port: int, connections: int) -> LoadResult:
    """Send every request once, as fast as possible (bounded by the list)."""
    return run_python_load(requests, host=host, port=port, connections=connections, duration_s=600.0)


# --- wrk -------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Each wrk thread sends its own share of the pre-signed requests (line i goes to thread i % stride).
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  local stride = tonumber(args[2])
  reqs = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % stride == tid then
      local path, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path,
        {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = sig}, body)
    end
    i = i + 1
  end
  n = 0
end
function request()
  n = n + 1
  if n > #reqs then
    n = 1 -- out of fresh requests: repeats are answered as duplicates (reported as "wrapped")
  end
  return reqs[n]
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "status": %d, "connect": %d, "read": %d, "write": %d,' ..
    ' "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    requests: list[PreparedRequest], *, host: str, port: int, connections: int, duration_s: float, work_dir: Path
) -> LoadResult:
    """Run wrk (closed loop) over the pre-signed requests for `duration_s`.

    wrk stops mid-flight: up to `connections` requests may have reached the server without
    their answer being counted (reported as `unanswered`).
    """
    data = work_dir / "wrk-requests.tsv"
    script = work_dir / "wrk-script.lua"
    with data.open("w") as out:
        for request in requests:
            signature = request.headers.get("X-Twilio-Signature", "")
            out.write(f"{request.path}\t{signature}\t{request.body.decode()}\n")
    script.write_text(WRK_SCRIPT)
    threads = min(2, connections)
    argv = [
        wrk_path() or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        f"{int(REQUEST_TIMEOUT_S)}s",
        "-s",
        str(script),
        f"http://{host}:{port}/",
        "--",
        str(data),
        str(threads),
    ]
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + REQUEST_TIMEOUT_S + 30)
    finally:
        data.unlink(missing_ok=True)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (exit {completed.returncode}): {completed.stderr[-500:]}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    result = LoadResult(generator="wrk")
    result.sent = raw["requests"]
    result.statuses[200] = raw["requests"] - raw["status"]
    if raw["status"]:
        result.statuses["non-2xx"] = raw["status"]
    for kind in ("connect", "read", "write", "timeout"):
        if raw[kind]:
            result.errors[kind] = raw[kind]
    result.elapsed_s = raw["duration_us"] / 1e6
    result.p50_s, result.p99_s, result.max_s = raw["p50_us"] / 1e6, raw["p99_us"] / 1e6, raw["max_us"] / 1e6
    result.unanswered = connections
    if raw["requests"] > len(requests):
        result.errors["wrapped"] = raw["requests"] - len(requests)
    return result
