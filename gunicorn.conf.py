"""Gunicorn settings for Brenda, read from the environment: `gunicorn brenda.wsgi`.

Gunicorn reads this file before Django starts, so it looks at the process environment only
(not `.env`). With TASKS_BACKEND=immediate a conversation turn runs inside the webhook request,
so keep GUNICORN_TIMEOUT above OPENAI_RUN_TIMEOUT_S; with the database backend requests are short.
"""

import multiprocessing
import os

MAX_DEFAULT_WORKERS = 8


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# GUNICORN_BIND wins; otherwise PORT (as set by most platforms) on every interface.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int_env('PORT', 8000)}"
# 2 x cores + 1, the usual rule, capped: each worker holds its own database pool.
workers = _int_env("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, MAX_DEFAULT_WORKERS))
# More than one thread switches gunicorn to its gthread worker.
threads = _int_env("GUNICORN_THREADS", 4)
timeout = _int_env("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
