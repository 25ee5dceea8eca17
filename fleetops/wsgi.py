import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
application = get_wsgi_application()

# Each worker imports this module before it serves: pay the first-use costs here, not on a user.
from apps.common.warmup import warm_up  # noqa: E402 - needs the application (and Django) set up

warm_up()
