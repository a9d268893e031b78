"""WSGI entry point: `gunicorn brenda.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brenda.settings")
application = get_wsgi_application()
