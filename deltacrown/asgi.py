"""ASGI entry point (`python -m uvicorn deltacrown.asgi:application`).

Importing it makes this process a serving process, as for deltacrown.wsgi.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltacrown.settings")

application = get_asgi_application()

from apps.tournaments.services import housekeeping  # noqa: E402  (needs the apps loaded above)

housekeeping.start()
