"""WSGI entry point (gunicorn deltacrown.wsgi, runserver through WSGI_APPLICATION).

Importing it makes this process a serving process: its housekeeping thread applies pending board
invalidations and flushes cache totals (apps.tournaments.services.housekeeping). gunicorn loads
it in each worker after the fork (no preload), so every worker runs its own.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deltacrown.settings")

application = get_wsgi_application()

from apps.tournaments.services import housekeeping  # noqa: E402  (needs the apps loaded above)

housekeeping.start()
