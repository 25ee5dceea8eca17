"""The positions receiver: the trackers' own port (Procfile `positions`, POSITIONS_PORT, 5055 by
default like the OsmAnd port of Traccar's server), served by uvicorn on an event loop
(fleetops.asgi). It answers the tracker endpoints only — the OsmAnd protocol, the gateway batch,
and the health and readiness checks for a load balancer; any other path is a 404 in the API's
error format, so opening this port to phones opens nothing of the back office, the ops console
or the portal. The answers are those of the web process: the same lean handler first, Django's
views for the rest."""

import json

from django.urls import reverse

from apps.common.asgi import send_whole

NOT_FOUND = {
    "type": "not_found",
    "status": 404,
    "request_id": None,
    "detail": "This port takes tracker positions only (OsmAnd and the gateway batch).",
}


def tracker_paths() -> tuple[str, ...]:
    return (
        reverse("api:telematics-osmand"),  # and /osmand/<token>
        reverse("api:telematics-positions"),
        reverse("healthz"),
        reverse("readyz"),
    )


class TrackerReceiver:
    """ASGI: the tracker paths to `app` (Django's application), everything else a 404."""

    def __init__(self, app):
        self.app = app
        self.paths = tracker_paths()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(self.paths):
            return await self.app(scope, receive, send)
        body = json.dumps(NOT_FOUND).encode()
        await send_whole(send, 404, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
