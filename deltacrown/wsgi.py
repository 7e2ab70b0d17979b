"""WSGI entry point (gunicorn deltacrown.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltacrown.settings")

application = get_wsgi_application()
