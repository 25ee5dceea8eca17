"""The positions receiver's application (Procfile `positions`: uvicorn on POSITIONS_PORT): the
tracker endpoints only (apps.telematics.api.receiver), the OsmAnd requests of known devices
answered by the lean handler on the event loop, everything else by Django's views through its
WSGI handler in persistent threads (apps.common.asgi.WsgiInThreads). The web process
(fleetops.wsgi, gunicorn) serves the same endpoints among all the others."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
django_application = get_wsgi_application()

# Each worker imports this module before it serves: pay the first-use costs here.
from apps.common.warmup import warm_up  # noqa: E402 - needs Django set up

warm_up()

from django.urls import reverse  # noqa: E402

from apps.common.asgi import LeanRoutesASGI, WsgiInThreads  # noqa: E402
from apps.telematics.api.lean import osmand_lean  # noqa: E402
from apps.telematics.api.receiver import TrackerReceiver  # noqa: E402

application = LeanRoutesASGI(
    TrackerReceiver(WsgiInThreads(django_application)), {reverse("api:telematics-osmand"): osmand_lean}
)
