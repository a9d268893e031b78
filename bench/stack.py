"""The running service the ack and e2e benches drive: a fresh PostgreSQL database and gunicorn.

`BenchStack` creates and migrates the bench database (refusing one it did not create), starts
gunicorn with the production config file (`gunicorn.conf.py`, tuned through its GUNICORN_*
variables) and the bench settings module (Brenda's settings plus a trivial view), starts
`db_worker` processes on request, and on the way out — error or Ctrl-C included — stops every
process it started and drops the database it created.
"""

import argparse
import base64
import http.client
import logging
import subprocess
from pathlib import Path

from .common import BIN_DIR, PYTHON, RESULTS_DIR, BenchDatabase, Child, ProcessSet, free_port, say, wait_until

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
TWILIO_TOKEN = "bench-twilio-auth-token-0123456789"
OPENAI_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"brenda-bench-webhook-secret-32b!").decode()
START_TIMEOUT_S = 90.0


class BenchStack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = BenchDatabase(server_url=args.pg, name=args.db_name)
        self.log_dir = RESULTS_DIR / "logs"
        self.processes = ProcessSet(self.log_dir)
        self.port = 0
        self.gunicorn: Child | None = None
        self.workers: list[Child] = []

    @property
    def public_base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of every process of the stack: bench database, signed webhooks, no real outside."""
        env = {
            "PATH": f"{BIN_DIR}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(Path.home()),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
            "DEBUG": "false",
            "ALLOWED_HOSTS": HOST,
            "DATABASE_URL": self.db.url,
            "TASKS_BACKEND": "database",
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_VALIDATE_SIGNATURE": "true",
            "PUBLIC_BASE_URL": self.public_base_url,
            "OPENAI_API_KEY": "",
            "OPENAI_WEBHOOK_SECRET": OPENAI_WEBHOOK_SECRET,
            "MESSAGING_BACKEND": "bench.messaging.BenchMessagingBackend",
            "LOG_LEVEL": "INFO",
        }
        env.update(overrides)
        return env

    def __enter__(self) -> "BenchStack":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start(self) -> None:
        self.port = free_port()
        say(f"stack: creating database {self.db.name}")
        self.db.create()
        env = self.env()
        for argv in (["migrate", "--noinput"], ["loaddata", "demo_courses"]):
            done = subprocess.run([PYTHON, "manage.py", *argv], env=env, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"manage.py {argv[0]} failed:\n{done.stderr[-2000:]}")
        say(f"stack: starting gunicorn ({self.args.workers} workers x {self.args.threads} threads) on port {self.port}")
        self.gunicorn = self.processes.start(
            "gunicorn",
            [str(BIN_DIR / "gunicorn"), "-c", "gunicorn.conf.py", "brenda.wsgi:application"],
            env=self.env(
                GUNICORN_BIND=f"{HOST}:{self.port}",
                GUNICORN_WORKERS=str(self.args.workers),
                GUNICORN_THREADS=str(self.args.threads),
            ),
        )
        try:
            wait_until(self._answers, timeout_s=START_TIMEOUT_S, what="gunicorn to answer", interval_s=0.2)
        except TimeoutError:
            say(f"gunicorn log:\n{self.gunicorn.log_tail()}")
            raise

    def _answers(self) -> bool:
        if self.gunicorn and self.gunicorn.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{self.gunicorn.log_tail()}")
        conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
        try:
            conn.request("GET", "/bench/trivial")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start_workers(self, count: int, *, env: dict[str, str]) -> list[Child]:
        """Start `count` more `db_worker` processes and wait until each is polling the queue."""
        new = []
        for _ in range(count):
            name = f"db_worker-{len(self.workers) + 1}"
            argv = [PYTHON, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.05", "--no-startup-delay"]
            child = self.processes.start(name, [*argv, "--worker-id", name], env=env)
            self.workers.append(child)
            new.append(child)
        for child in new:
            try:
                wait_until(
                    lambda c=child: self._worker_ready(c), timeout_s=START_TIMEOUT_S, what=f"{child.name} to start"
                )
            except TimeoutError:
                say(f"{child.name} log:\n{child.log_tail()}")
                raise
        return new

    def _worker_ready(self, child: Child) -> bool:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
        return "Starting worker" in child.log_text()

    def stop_workers(self) -> None:
        for child in self.workers:
            self.processes.stop(child)
        self.workers = []

    def close(self) -> None:
        self.processes.stop_all()
        self.workers = []
        if not self.db.created:
            return  # never drop a database this run did not create
        try:
            self.db.drop()
            say(f"stack: dropped database {self.db.name}")
        except Exception as exc:
            say(f"stack: could not drop database {self.db.name}: {exc}")
