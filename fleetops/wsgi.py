import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetops.settings.base")
application = get_wsgi_application()

# Each worker imports this module before it serves: pay the first-use costs here, not on a user.
from apps.common.warmup import warm_up  # noqa: E402 - needs the application (and Django) set up

warm_up()

# The OsmAnd requests of known devices are answered before Django's request cycle (the same
# checks and answers; everything else falls through to Django): see apps.telematics.api.lean.
from django.urls import reverse  # noqa: E402

from apps.common.wsgi import LeanRoutes  # noqa: E402
from apps.telematics.api.lean import osmand_lean  # noqa: E402

application = LeanRoutes(application, {reverse("api:telematics-osmand"): osmand_lean})
