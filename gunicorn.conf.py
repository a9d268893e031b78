"""Gunicorn settings for Brenda, read from the environment: `gunicorn brenda.wsgi`.

Gunicorn reads this file before Django starts, so it looks at the process environment only
(not `.env`). With TASKS_BACKEND=immediate a conversation turn runs inside the webhook request,
so keep GUNICORN_TIMEOUT above OPENAI_RUN_TIMEOUT_S; with the database backend requests are short.

Gunicorn runs none of Django's system checks, so `on_starting` below runs `manage.py check` before
any worker starts: a check error (e.g. unsigned Twilio webhooks with DEBUG off) or settings that
refuse to load (a weak SECRET_KEY) stop gunicorn, as they stop `runserver` and `migrate`.
"""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

MAX_DEFAULT_WORKERS = 8
MANAGE_PY = Path(__file__).resolve().parent / "manage.py"


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    """Read a whole number of at least `minimum` (empty: the default); anything else stops gunicorn in one line.

    Raised in this file, a ValueError is a "Failed to read config file" traceback, and GUNICORN_WORKERS=0 a
    gunicorn that starts yet never answers.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        sys.exit(f"Configuration error: {name}={value!r} must be a whole number of at least {minimum}.")
    return number


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
# Peers whose X-Forwarded-* headers gunicorn trusts (its scheme from X-Forwarded-Proto): the TLS proxy's
# addresses, comma-separated; gunicorn's own default, stated here. Django's SECURE_PROXY_SSL_HEADER trusts the
# header from any peer, so gunicorn must be reachable only through that proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"


def on_starting(server) -> None:
    """Run Django's system checks in a subprocess (the master never imports Django); stop on an error."""
    checked = subprocess.run([sys.executable, str(MANAGE_PY), "check"], check=False)  # noqa: S603
    if checked.returncode != 0:
        server.log.error("manage.py check failed (errors above): gunicorn does not start")
        sys.exit(1)
