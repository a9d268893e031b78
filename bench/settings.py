"""Settings for the bench's gunicorn: Brenda's own settings plus a trivial view to compare against.

Only the URL map changes (bench.urls adds the trivial view in front of brenda.urls), so the
webhook runs exactly as in production. Never used outside the bench.
"""

from brenda.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
