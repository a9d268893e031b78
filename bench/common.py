"""What the benchmarks share: tables, percentiles, child processes that always die, the bench database.

Everything here talks only to 127.0.0.1. Child processes start in their own session (so a
Ctrl-C reaches the bench first, which then stops them in order) and ask the kernel to
terminate them if the bench itself dies.
"""

import contextlib
import ctypes
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
BIN_DIR = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 15.0


# --- numbers and tables ----------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Return the `pct` percentile (nearest rank) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return value / baseline


def fmt(value: object, digits: int = 1) -> str:
    """Format a table cell: None as '-', floats with `digits` decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    notes: Sequence[str] = (),
    *,
    align: str = "",
) -> None:
    """Print an aligned text table; `align` has an 'l' or 'r' per column (default: first left, others right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(h) for h in headers], *[[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True))

    rule = "-" * len(line(cells[0]))
    out = ["", title, rule, line(cells[0]), rule, *(line(row) for row in cells[1:]), rule]
    out.extend(f"  {note}" for note in notes)
    print("\n".join(out), flush=True)


def say(text: str) -> None:
    """Progress line on stderr, so stdout holds only the tables."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# --- processes -------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class ProcessSet:
    """Child processes started by the bench; `stop_all` ends each one by its own pid (and group)."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("wb")
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            log.close()
        child = Child(name=name, process=process, log_path=log_path)
        self.children.append(child)
        return child

    def stop(self, child: Child, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the child's process group (gunicorn's workers are in it), then SIGKILL if it lingers."""
        process = child.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s; killing it", child.name, timeout_s)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # Leftovers of the group (a worker whose master died first) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)


def wait_until(predicate: Callable[[], bool], *, timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (and SIGINT, even where a shell started us ignoring it) into KeyboardInterrupt.

    So `finally` blocks stop the child processes and drop the database on either signal.
    """

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous_term = signal.signal(signal.SIGTERM, handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


# --- the bench database ----------------------------------------------------------------------


class BenchDatabase:
    """A throw-away PostgreSQL database on 127.0.0.1, created by the bench and dropped only if the bench created it.

    A database of that name that the bench did not create is never touched: `create` refuses it. The
    bench marks its databases with a comment, so a leftover of a killed bench run is recognised and replaced.
    """

    # Written as the database's comment at creation: only a database carrying it is the bench's to replace.
    MARKER = "created by the Brenda bench (python -m bench); dropped when the bench ends"
    NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
    # The tables a run fills; the catalogue and Django's own tables stay.
    RUN_TABLES = (
        "brenda_messages",
        "brenda_turns",
        "brenda_contacts",
        "oa_threads_map",
        "brenda_openai_webhook_events",
        "django_tasks_database_dbtaskresult",
    )

    def __init__(self, *, server_url: str, name: str) -> None:
        if not self.NAME_PATTERN.match(name):
            raise ValueError(f"bench database name {name!r}: use lowercase letters, digits and _ (at most 63)")
        self.server_url = server_url.rstrip("/")
        self.name = name
        self.url = f"{self.server_url}/{name}"
        self.created = False
        self._conn = None

    def create(self) -> None:
        """Create the database; replace a leftover of an earlier bench run; refuse any other existing one."""
        comment = self._existing_comment()
        if comment is not None:
            if comment != self.MARKER:
                raise RuntimeError(
                    f"database {self.name} exists and was not created by the bench: it is left alone. "
                    f"Choose another name (--db-name, or make bench BENCH_DB=...)."
                )
            say(f"dropping {self.name}, left over by an earlier bench run")
            self._admin(f'DROP DATABASE "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        self.created = True
        self._admin(f"COMMENT ON DATABASE \"{self.name}\" IS '{self.MARKER}'")

    def drop(self) -> None:
        """Drop the database if this bench created it; otherwise do nothing."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if not self.created:
            return
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.created = False

    def _existing_comment(self) -> str | None:
        """The comment of the database of this name ("" without one), or None when there is no such database."""
        import psycopg

        with psycopg.connect(f"{self.server_url}/postgres", autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s",
                (self.name,),
            ).fetchone()
        return None if row is None else row[0]

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.server_url}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)

    def _connection(self):
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        return self._conn

    def scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        row = self._connection().execute(sql, params).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        return list(self._connection().execute(sql, params).fetchall())

    def truncate_run_tables(self) -> None:
        """Empty what a run fills; a task a live worker is running keeps its row (it saves its result there)."""
        tasks = "django_tasks_database_dbtaskresult"
        connection = self._connection()
        connection.execute(f"TRUNCATE {', '.join(t for t in self.RUN_TABLES if t != tasks)} CASCADE")
        connection.execute(f"DELETE FROM {tasks} WHERE status <> 'RUNNING'")


@contextlib.contextmanager
def demo_test_database(bench: str) -> Iterator[str]:
    """A fresh test database (DATABASE_URL's engine, `test_` prefix) holding the demo catalogue, dropped after.

    Yields the database vendor.
    """
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    say(f"{bench}: setting up a test database ({connection.vendor})")
    old_config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        call_command("loaddata", "demo_courses", verbosity=0)
        yield connection.vendor
    finally:
        teardown_databases(old_config, verbosity=0)
