"""ASGI entry point, for servers that speak ASGI; production uses gunicorn with WSGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltacrown.settings")

application = get_asgi_application()
